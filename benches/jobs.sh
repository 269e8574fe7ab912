#!/usr/bin/env bash
# The shipped job over a Parquet lake into Parquet (checks and reconciliation on), one migration
# at a time against several at once (`--jobs`), alternating, medians, peak RSS and CPU. No
# database needed: the lake is staged from `ferry generate`'s SQLite tables (ROWS users, 3 x ROWS
# orders, ROWS unnormalized rows), as ../shared/device/run.sh does on bigger machines.
#
#   benches/jobs.sh [ROWS] [RUNS]        default 3,000,000 (15M rows in all), 3 runs
#   JOBS="1 2 4" benches/jobs.sh         the --jobs values compared (default "1 2")
#
# Needs a release build (cargo build --release).
set -euo pipefail
DEFAULT_ROWS=3000000 DEFAULT_RUNS=3
source "$(dirname "$0")/common.sh" "$@"
cp -r "$ROOT/queries" "$WORK/"
python3 - "$ROOT/ferry.toml" "$WORK" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def job(source, target):
    text2 = re.sub(r'(?m)^source = "\$\{FERRY_SOURCE[^\n]*$', f'source = "{source}"', text)
    return re.sub(r'(?m)^target = "\$\{FERRY_TARGET[^\n]*$', f'target = "{target}"', text2)
open(f"{sys.argv[2]}/lake.toml", "w").write(job("file://lake", "file://out"))
open(f"{sys.argv[2]}/stage.toml", "w").write(job("sqlite://src.db", "file://unused"))
PY
cd "$WORK"
"$FERRY" generate --rows "$ROWS" --to "sqlite://$WORK/src.db" > /dev/null 2>&1
"$FERRY" stage source_table source_orders source_unnormalized --job stage.toml --to "file://$WORK/lake" > /dev/null 2>&1
JOBS=${JOBS:-1 2}
for run in $(seq 1 "$RUNS"); do
  for jobs in $JOBS; do
    rm -rf out
    /usr/bin/time -o time.txt -f '%e %M %P' "$FERRY" run --job lake.toml --jobs "$jobs" > run.out 2>&1 || { tail -20 run.out >&2; exit 1; }
    read -r seconds kb cpu < time.txt
    echo "$seconds $kb $cpu" >> "jobs_$jobs.txt"
    printf 'run %d, --jobs %d: %6ss %4d MB %s CPU\n' "$run" "$jobs" "$seconds" $((kb / 1024)) "$cpu"
  done
done
first=""
for jobs in $JOBS; do
  m=$(cut -d' ' -f1 "jobs_$jobs.txt" | median)
  [ -n "$first" ] || first=$m
  printf -- '--jobs %d: median %ss, peak %d MB, %s faster than --jobs %s\n' "$jobs" "$m" \
    $(( $(cut -d' ' -f2 "jobs_$jobs.txt" | sort -n | tail -1) / 1024 )) \
    "$(awk -v a="$first" -v b="$m" 'BEGIN {printf "%.2fx", a / b}')" "${JOBS%% *}"
done
