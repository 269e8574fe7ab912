#!/usr/bin/env bash
# Scale-out overhead: the users and orders migrations (checks and reconciliation on) PostgreSQL ->
# PostgreSQL run locally, on a Ballista cluster in one process (`ferry cluster standalone`: a
# scheduler and two executors), and on a cluster of processes (`ferry cluster scheduler` and two
# `ferry cluster executor`), all on this machine, with `ferry run --cluster --stage`,
# alternating; medians of the wall time, and where a cluster run's time goes (staging, then the
# query on the cluster with ferry's checks and load), from the runs' JSON reports.
#
#   benches/cluster.sh [ROWS] [RUNS]      default 5,000,000 users (15,000,000 orders), 3 runs
#
# Needs a release build with the feature: cargo build --release --features distributed.
DEFAULT_ROWS=5000000 DEFAULT_RUNS=3
source "$(dirname "$0")/common.sh"
pg_pair
PORT=${PORT:-50150} ONE=${ONE:-50250}
"$FERRY" cluster standalone --bind "127.0.0.1:$ONE" --executors 2 --work-dir "$WORK/standalone" > "$WORK/standalone.log" 2>&1 &
PIDS=$!
"$FERRY" cluster scheduler --bind "127.0.0.1:$PORT" > "$WORK/scheduler.log" 2>&1 &
PIDS="$PIDS $!"
for n in 1 2; do
  "$FERRY" cluster executor --scheduler "df://127.0.0.1:$PORT" --bind "127.0.0.1:$((PORT + 10 * n))" \
    --grpc-port $((PORT + 10 * n + 1)) --work-dir "$WORK/executor$n" > "$WORK/executor$n.log" 2>&1 &
  PIDS="$PIDS $!"
done
trap 'kill $PIDS 2>/dev/null; rm -rf "$WORK"' EXIT
sleep 2
run() { # run MODE: one run of users and orders, its wall time and report
  local extra=()
  [ "$1" = processes ] && extra=(--cluster "df://127.0.0.1:$PORT" --stage "file://$WORK/stage")
  [ "$1" = one-process ] && extra=(--cluster "df://127.0.0.1:$ONE" --stage "file://$WORK/stage")
  rm -rf "$WORK/stage"
  /usr/bin/time -o "$WORK/time.txt" -f '%e %M' "$FERRY" run users orders --job "$WORK/job.toml" \
    --source "$URL/$SRC" --target "$URL/$DST" --report "$WORK/report.json" "${extra[@]}" > "$WORK/run.out" 2>&1 \
    || { tail -20 "$WORK/run.out" >&2; exit 1; }
  read -r seconds kb < "$WORK/time.txt"
  python3 - "$WORK/report.json" "$1" "$seconds" "$kb" <<'PY' | tee -a "$WORK/$1.txt"
import json, sys
report, mode, wall, kb = json.load(open(sys.argv[1])), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
parts = []
for m in report["migrations"]:
    staged = (m.get("cluster") or {}).get("staged_seconds", 0.0)
    parts.append(f'{m["name"]} {m["seconds"]:.2f}s (staging {staged:.2f}s, query+checks+load {m["seconds"] - staged:.2f}s)')
print(f'{wall} {kb // 1024} {mode}: {"; ".join(parts)}')
PY
}
for i in $(seq 1 "$RUNS"); do run local; run one-process; run processes; done
l=$(cut -d' ' -f1 "$WORK/local.txt" | median)
for mode in one-process processes; do
  c=$(cut -d' ' -f1 "$WORK/$mode.txt" | median)
  printf 'local: median %ss; %s cluster (a scheduler, 2 executors): median %ss, %s the local time\n' "$l" "$mode" "$c" \
    "$(awk -v a="$c" -v b="$l" 'BEGIN {printf "%.2fx", a / b}')"
done
