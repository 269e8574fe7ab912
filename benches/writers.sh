#!/usr/bin/env bash
# Several writers into a swapped PostgreSQL replace (`--writers N`), PG -> PG, the shipped job's
# users and orders, alternating runs of each writer count; medians and peak RSS.
#
#   benches/writers.sh [ROWS] [RUNS]    default 1,000,000 users (3,000,000 orders), 3 runs
#   WRITERS="1 2 4" benches/writers.sh  the writer counts (default 1 2 4)
#
# Needs a release build (cargo build --release) and a PostgreSQL reachable as $PGUSER at
# $PGHOST:5432 (defaults: postgres@127.0.0.1). Databases ferry_src and ferry_dst are replaced.
DEFAULT_RUNS=3
source "$(dirname "$0")/common.sh" "$@"
pg_pair
JOB=$WORK/job.toml
# A first run makes the tables: later runs replace them, by a swap.
"$FERRY" run --job "$JOB" users orders --source "$URL/$SRC" --target "$URL/$DST" >/dev/null

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
