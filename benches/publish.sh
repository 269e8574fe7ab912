#!/usr/bin/env bash
# How a PostgreSQL replace publishes: swapped in (publish = "auto", the default) against in
# place (publish = "in_place"), PG -> PG, the shipped job's users and orders, alternating runs.
# Each run is timed alone (peak RSS too); then run again beside a reader that counts the target
# table every 50 ms, for the slowest read (in place, readers wait for the whole load). The reader
# is not there while timing: on a small machine its full scans take a core from the load.
#
#   benches/publish.sh [ROWS] [RUNS]    default 1,000,000 users (3,000,000 orders), 3 runs
#
# Needs a release build (cargo build --release) and a PostgreSQL reachable as $PGUSER at
# $PGHOST:5432 (defaults: postgres@127.0.0.1). Databases ferry_src and ferry_dst are replaced.
DEFAULT_RUNS=3
source "$(dirname "$0")/common.sh" "$@"
pg_pair
# The shipped job once as it is and once loading in place.
cp "$WORK/job.toml" "$WORK/swap.toml"
awk '{ print } /^\[\[migrations\]\]/ { print "publish = \"in_place\"" }' "$WORK/swap.toml" > "$WORK/in_place.toml"
# A first run makes the tables (a created table loads in its own transaction either way).
"$FERRY" run --job "$WORK/swap.toml" users orders --source "$URL/$SRC" --target "$URL/$DST" >/dev/null

# reader TABLE: counts TABLE every 50 ms until $WORK/stop exists; prints the slowest read in ms.
reader() {
  local slowest=0 start took
  while [ ! -e "$WORK/stop" ]; do
    start=$(date +%s%N)
    psql -qAt "$DST" -c "SELECT count(*) FROM $1" >/dev/null
    took=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$took" -gt "$slowest" ] && slowest=$took
    sleep 0.05
  done
  echo "$slowest"
}

for migration in users orders; do
  for method in swap in_place; do : > "$WORK/$migration.$method"; done
  for run in $(seq 1 "$RUNS"); do
    for method in swap in_place; do
      load=("$FERRY" run --job "$WORK/$method.toml" "$migration" --source "$URL/$SRC" --target "$URL/$DST")
      /usr/bin/time -o "$WORK/time" -f '%e %M' "${load[@]}" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
      read -r seconds rss < "$WORK/time"
      rm -f "$WORK/stop"
      reader "target_$migration" > "$WORK/slowest" &
      "${load[@]}" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
      touch "$WORK/stop"; wait
      slowest=$(cat "$WORK/slowest")
      echo "$seconds $rss $slowest" >> "$WORK/$migration.$method"
      printf '%-7s run %d %-9s %6ss  peak RSS %4d MB  slowest concurrent read %5d ms\n' \
        "$migration" "$run" "$method" "$seconds" "$((rss / 1024))" "$slowest"
    done
  done
  for method in swap in_place; do
    printf '%-7s %-9s median %ss, slowest read (median of runs) %s ms\n' "$migration" "$method" \
      "$(cut -d' ' -f1 "$WORK/$migration.$method" | median)" "$(cut -d' ' -f3 "$WORK/$migration.$method" | median)"
  done
done
