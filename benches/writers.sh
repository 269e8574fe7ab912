#!/usr/bin/env bash
# Several writers into a swapped PostgreSQL replace (`--writers N`), PG -> PG, the shipped job's
# users and orders, alternating runs of each writer count; medians and peak RSS.
#
#   benches/writers.sh [ROWS] [RUNS]    default 1,000,000 users (3,000,000 orders), 3 runs
#   WRITERS="1 2 4" benches/writers.sh  the writer counts (default 1 2 4)
#
# Needs a release build (cargo build --release) and a PostgreSQL reachable as $PGUSER at
# $PGHOST:5432 (defaults: postgres@127.0.0.1). Databases ferry_src and ferry_dst are replaced.
set -euo pipefail
ROWS=${1:-1000000}
RUNS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ferry}
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
SRC=ferry_src DST=ferry_dst
URL="postgres://$PGUSER@$PGHOST:5432"
[ -x "$FERRY" ] || { echo "no release binary at $FERRY; run: cargo build --release" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "GNU time is missing: apt-get install time" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for db in $SRC $DST; do dropdb --if-exists "$db"; createdb "$db"; done
"$FERRY" generate --rows "$ROWS" --to "$URL/$SRC" >/dev/null
psql -q "$SRC" -c "VACUUM ANALYZE" >/dev/null
JOB=$WORK/job.toml
sed "s|query = \"queries/|query = \"$ROOT/queries/|" "$ROOT/ferry.toml" > "$JOB"
# A first run makes the tables: later runs replace them, by a swap.
"$FERRY" run --job "$JOB" users orders --source "$URL/$SRC" --target "$URL/$DST" >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for migration in users orders; do
  for writers in ${WRITERS:-1 2 4}; do : > "$WORK/$migration.$writers"; done
  for run in $(seq 1 "$RUNS"); do
    for writers in ${WRITERS:-1 2 4}; do
      /usr/bin/time -o "$WORK/time" -f '%e %M' "$FERRY" run --job "$JOB" "$migration" --writers "$writers" \
        --source "$URL/$SRC" --target "$URL/$DST" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
      read -r seconds rss < "$WORK/time"
      echo "$seconds $rss" >> "$WORK/$migration.$writers"
      printf '%-7s run %d, %d writer(s): %6ss, peak RSS %4d MB\n' "$migration" "$run" "$writers" "$seconds" "$((rss / 1024))"
    done
  done
  for writers in ${WRITERS:-1 2 4}; do
    printf '%-7s %d writer(s): median %ss, peak RSS %d MB\n' "$migration" "$writers" \
      "$(cut -d' ' -f1 "$WORK/$migration.$writers" | median)" "$(( $(cut -d' ' -f2 "$WORK/$migration.$writers" | sort -n | tail -1) / 1024 ))"
  done
done
