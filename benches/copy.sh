#!/usr/bin/env bash
# A whole MySQL/MariaDB database into PostgreSQL: `ferry copy` vs pgloader (Debian package
# `pgloader`), alternating, medians, peak RSS. The source is `ferry generate`'s three tables
# (ROWS users, 3 x ROWS orders, ROWS unnormalized rows: 5 x ROWS in all) with their keys.
#
#   benches/copy.sh [ROWS] [RUNS]     default 1,000,000 (5M rows in all), 3 runs
#
# Needs a release build (cargo build --release), MariaDB/MySQL as root at $MYSQL_HOST:3306 and
# PostgreSQL as $PGUSER at $PGHOST:5432 (defaults 127.0.0.1, postgres). Databases ferry_copy_src
# (MySQL) and ferry_copy_dst (PostgreSQL) are replaced.
DEFAULT_RUNS=3
source "$(dirname "$0")/common.sh" "$@"
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
SRC=mysql://root@$MYSQL_HOST:3306/ferry_copy_src
DST=postgresql://$PGUSER@$PGHOST:5432/ferry_copy_dst
command -v pgloader >/dev/null || { echo "pgloader is missing: apt-get install pgloader" >&2; exit 2; }

mysql -h "$MYSQL_HOST" -u root -e "DROP DATABASE IF EXISTS ferry_copy_src; CREATE DATABASE ferry_copy_src"
"$FERRY" generate --rows "$ROWS" --to "$SRC" > /dev/null
# pgloader 3.6.7 cannot translate MariaDB's `current_timestamp(6)` default (it fails creating the
# schema), so the date-times are second-precision with a plain CURRENT_TIMESTAMP, as generated
# values are anyway; the bookkeeping table `ferry generate` leaves is dropped.
mysql -h "$MYSQL_HOST" -u root ferry_copy_src -e "ALTER TABLE source_table MODIFY created_at DATETIME DEFAULT CURRENT_TIMESTAMP; \
  ALTER TABLE source_orders MODIFY order_date DATETIME DEFAULT CURRENT_TIMESTAMP; DROP TABLE IF EXISTS _ferry_rejects"
fresh() { dropdb --if-exists ferry_copy_dst; createdb ferry_copy_dst; }
measure() { # command...: prints "seconds peak_kb"
  /usr/bin/time -o /tmp/ferry_copy.time -f '%e %M' "$@" > /tmp/ferry_copy.out 2>&1 || { cat /tmp/ferry_copy.out >&2; exit 1; }
  cat /tmp/ferry_copy.time
}
# Both tools must have moved every row: pgloader reports some failures with exit code 0.
loaded() {
  local got; got=$(psql -Atq ferry_copy_dst -c "SELECT (SELECT count(*) FROM source_table) + (SELECT count(*) FROM source_orders) + (SELECT count(*) FROM source_unnormalized)" 2>/dev/null || echo 0)
  [ "$got" = $((5 * ROWS)) ] || { echo "$1 loaded $got rows of $((5 * ROWS)):" >&2; tail -20 /tmp/ferry_copy.out >&2; exit 1; }
}
: > /tmp/ferry_copy.ferry; : > /tmp/ferry_copy.pgloader
for run in $(seq 1 "$RUNS"); do
  fresh; p=$(measure pgloader "$SRC" "$DST"); loaded pgloader
  fresh; f=$(measure "$FERRY" copy --source "$SRC" --target "$DST"); loaded ferry
  echo "$p" >> /tmp/ferry_copy.pgloader; echo "$f" >> /tmp/ferry_copy.ferry
  printf 'run %d: pgloader %6ss %4d MB   ferry copy %6ss %4d MB\n' "$run" "${p% *}" "$(( ${p#* } / 1024 ))" "${f% *}" "$(( ${f#* } / 1024 ))"
done
p=$(cut -d' ' -f1 /tmp/ferry_copy.pgloader | median); f=$(cut -d' ' -f1 /tmp/ferry_copy.ferry | median)
printf '%d rows in all: pgloader median %ss (peak %d MB), ferry copy median %ss (peak %d MB), ratio %s\n' \
  $((5 * ROWS)) "$p" $(( $(cut -d' ' -f2 /tmp/ferry_copy.pgloader | sort -n | tail -1) / 1024 )) \
  "$f" $(( $(cut -d' ' -f2 /tmp/ferry_copy.ferry | sort -n | tail -1) / 1024 )) \
  "$(awk -v f="$f" -v p="$p" 'BEGIN {printf "%.2fx", f / p}')"
