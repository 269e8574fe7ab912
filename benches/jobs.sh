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
ROWS=${1:-3000000}
RUNS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ferry}
[ -x "$FERRY" ] || { echo "no release binary at $FERRY; run: cargo build --release" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "GNU time is missing: apt-get install time" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
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
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
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
