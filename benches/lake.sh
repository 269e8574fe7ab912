#!/usr/bin/env bash
# The shipped job over a Parquet lake into Parquet (checks and reconciliation on) with several
# settings, alternating: medians, peak RSS and CPU. No database needed: the lake is staged from
# `ferry generate`'s SQLite tables (ROWS users, 3 x ROWS orders, ROWS unnormalized rows), as
# ../shared/device/run.sh does on bigger machines.
#
#   benches/lake.sh [ROWS] [RUNS]        default 3,000,000 (15M rows in all), 3 runs
#   VARIANTS="--jobs 1 --partitions 1;--partitions 1;" benches/lake.sh
#       the `ferry run` options compared, `;`-separated (an empty one: the defaults); the
#       default compares one core's pipeline (--jobs 1 --partitions 1), the migrations at
#       once with one partition each (--partitions 1, the defaults before partitions = "auto"),
#       and the defaults
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
VARIANTS=${VARIANTS:---jobs 1 --partitions 1;--partitions 1;}
IFS=';' read -r -a variants <<< "$VARIANTS;"
for run in $(seq 1 "$RUNS"); do
  for i in "${!variants[@]}"; do
    rm -rf out
    # shellcheck disable=SC2086
    /usr/bin/time -o time.txt -f '%e %M %P' "$FERRY" run --job lake.toml ${variants[$i]} > run.out 2>&1 || { tail -20 run.out >&2; exit 1; }
    read -r seconds kb cpu < time.txt
    echo "$seconds $kb $cpu" >> "variant_$i.txt"
    printf 'run %d, [%s]: %6ss %4d MB %s CPU\n' "$run" "${variants[$i]:-defaults}" "$seconds" $((kb / 1024)) "$cpu"
  done
done
first=""
for i in "${!variants[@]}"; do
  m=$(cut -d' ' -f1 "variant_$i.txt" | median)
  [ -n "$first" ] || first=$m
  printf '[%s]: median %ss, peak %d MB, median CPU %s, %s faster than [%s]\n' "${variants[$i]:-defaults}" "$m" \
    $(( $(cut -d' ' -f2 "variant_$i.txt" | sort -n | tail -1) / 1024 )) \
    "$(cut -d' ' -f3 "variant_$i.txt" | tr -d % | median)%" \
    "$(awk -v a="$first" -v b="$m" 'BEGIN {printf "%.2fx", a / b}')" "${variants[0]:-defaults}"
done
