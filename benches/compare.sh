#!/usr/bin/env bash
# ferry vs PostgreSQL's own binary COPY pipe, PG -> PG on this machine, alternating runs.
# Prints each run, then medians, the ratio ferry/pipe, and peak RSS (from GNU time); again
# against the pipe with the target's key built after the rows (key_after), as ferry does. Then the
# users migration into Parquet (vs `COPY ... TO STDOUT` into a file) and into SQLite (vs a bare
# rusqlite bulk insert of the same rows, examples/sqlite_bulk_insert.rs), with rows/s.
#
#   benches/compare.sh [ROWS] [RUNS]        default 1,000,000 users (3,000,000 orders), 5 runs
#   MAIN= SKIP_OTHERS=1 benches/compare.sh    only the partition scaling curve (PARTS="1 2 4")
#   JOB=other.toml benches/compare.sh        another job file
#   CHECKS=off benches/compare.sh            the job without its checks and reconciliation
#   MYSQL_HOST=127.0.0.1 benches/compare.sh  also MariaDB/MySQL -> PostgreSQL (users)
#
# Needs a release build (cargo build --release --examples) and a PostgreSQL reachable as
# $PGUSER at $PGHOST:5432 (defaults: postgres@127.0.0.1). Databases ferry_src and ferry_dst are
# replaced; files go to a temporary folder.
set -euo pipefail
ROWS=${1:-1000000}
RUNS=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOB=${JOB:-$ROOT/ferry.toml}
FERRY=${FERRY:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ferry}
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
SRC=ferry_src DST=ferry_dst
URL="postgres://$PGUSER@$PGHOST:5432"
BULK=${BULK:-$(dirname "$FERRY")/examples/sqlite_bulk_insert}
[ -x "$FERRY" ] || { echo "no release binary at $FERRY; run: cargo build --release --examples" >&2; exit 2; }
[ -x "$BULK" ] || { echo "no baseline at $BULK; run: cargo build --release --examples" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ "${CHECKS:-on}" = off ]; then
  # The same job minus its [[migrations.checks]] tables, with reconcile = false.
  awk -v root="$ROOT" '
    /^\[\[migrations\.checks\]\]/ { skip = 1; next }
    /^\[/ { skip = 0 }
    skip { next }
    { sub(/query = "queries\//, "query = \"" root "/queries/"); print }
    /^\[\[migrations\]\]/ { print "reconcile = false" }
  ' "$JOB" > "$WORK/job.toml"
  JOB=$WORK/job.toml
fi
command -v /usr/bin/time >/dev/null || { echo "GNU time is missing: apt-get install time" >&2; exit 2; }

for db in $SRC $DST; do dropdb --if-exists "$db"; createdb "$db"; done
"$FERRY" generate --rows "$ROWS" --to "$URL/$SRC" >/dev/null
psql -q "$DST" <<'SQL'
CREATE TABLE target_users (user_id INTEGER PRIMARY KEY, full_name VARCHAR(100), age_group VARCHAR(10) NOT NULL, city VARCHAR(50), registered_date TIMESTAMP);
CREATE TABLE target_orders (order_id INTEGER PRIMARY KEY, user_id INTEGER, order_total DECIMAL(10, 2), order_date TIMESTAMP);
SQL
psql -q "$SRC" -c "VACUUM ANALYZE" >/dev/null

USERS_SQL="SELECT id, name, CASE WHEN age IS NULL THEN 'unknown' WHEN age < 30 THEN '<30' WHEN age <= 40 THEN '30-40' ELSE '>40' END, city, created_at FROM source_table"
ORDERS_SQL="SELECT order_id, user_id, order_total, order_date FROM source_orders"
pipe() { # $1 target table, $2 query
  psql -q "$DST" -c "TRUNCATE $1"
  psql -q "$SRC" -c "COPY ($2) TO STDOUT (FORMAT binary)" | psql -q "$DST" -c "COPY $1 FROM STDIN (FORMAT binary)"
}
# The same pipe, with the key built after the rows (as ferry does) in the COPY's transaction.
pipe_key_after() { # $1 target table, $2 query, $3 key column
  psql -q "$SRC" -c "COPY ($2) TO STDOUT (FORMAT binary)" | psql -q -v ON_ERROR_STOP=1 "$DST" -c BEGIN -c "TRUNCATE $1" \
    -c "ALTER TABLE $1 DROP CONSTRAINT ${1}_pkey" -c "COPY $1 FROM STDIN (FORMAT binary)" \
    -c "ALTER TABLE $1 ADD CONSTRAINT ${1}_pkey PRIMARY KEY ($3)" -c COMMIT
}
export -f pipe pipe_key_after
export SRC DST

measure() { # name, command...: prints "seconds peak_kb"
  local name=$1; shift
  /usr/bin/time -o /tmp/ferry_compare.time -f '%e %M' "$@" >/dev/null 2>/tmp/ferry_compare.err || { echo "$name failed:" >&2; cat /tmp/ferry_compare.err >&2; exit 1; }
  cat /tmp/ferry_compare.time
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# alternate LABEL BASELINE_FUNCTION FERRY_ARGS...: RUNS alternating runs of each; sets
# base_median, ferry_median (seconds) and ferry_rss (KB, the highest).
alternate() {
  local label=$1 baseline=$2; shift 2
  : > /tmp/ferry_compare.pipe; : > /tmp/ferry_compare.ferry
  for run in $(seq 1 "$RUNS"); do
    p=$(measure "$baseline" bash -c "$baseline")
    f=$(measure ferry "$FERRY" run --job "$JOB" "$@")
    echo "$p" >> /tmp/ferry_compare.pipe; echo "$f" >> /tmp/ferry_compare.ferry
    printf '%-7s run %d: %s %6ss  ferry %6ss  (ferry peak RSS %s MB)\n' "$label" "$run" "$baseline" "${p% *}" "${f% *}" "$(( ${f#* } / 1024 ))"
  done
  base_median=$(cut -d' ' -f1 /tmp/ferry_compare.pipe | median)
  ferry_median=$(cut -d' ' -f1 /tmp/ferry_compare.ferry | median)
  ferry_rss=$(cut -d' ' -f2 /tmp/ferry_compare.ferry | sort -n | tail -1)
}
ratio() { awk -v f="$ferry_median" -v p="$base_median" 'BEGIN {printf "%.2fx", f / p}'; }

pipe_users() { pipe target_users "$USERS_SQL"; }
pipe_orders() { pipe target_orders "$ORDERS_SQL"; }
key_after_users() { pipe_key_after target_users "$USERS_SQL" user_id; }
key_after_orders() { pipe_key_after target_orders "$ORDERS_SQL" order_id; }
export -f pipe_users pipe_orders key_after_users key_after_orders
export USERS_SQL ORDERS_SQL
for migration in ${MAIN-users orders}; do
  rows=$ROWS; [ "$migration" = orders ] && rows=$((3 * ROWS))
  for baseline in pipe key_after; do
    alternate "$migration" "${baseline}_$migration" "$migration" --source "$URL/$SRC" --target "$URL/$DST"
    printf '%-7s %9d rows: %s median %ss, ferry median %ss, ratio %s, ferry peak RSS %d MB\n' \
      "$migration" "$rows" "$baseline" "$base_median" "$ferry_median" "$(ratio)" "$((ferry_rss / 1024))"
  done
done

# Reads in parts (--partitions N: key ranges of each source table on one snapshot), against
# the same pipe: the scaling curve. PARTS="1 2 4" by default; more parts need more cores.
for parts in ${PARTS:-1 2 4}; do
  for migration in users orders; do
    alternate "$migration/$parts" "pipe_$migration" "$migration" --source "$URL/$SRC" --target "$URL/$DST" --partitions "$parts"
    printf '%-7s %d part(s): pipe median %ss, ferry median %ss, ratio %s, ferry peak RSS %d MB\n' \
      "$migration" "$parts" "$base_median" "$ferry_median" "$(ratio)" "$((ferry_rss / 1024))"
  done
done

# Other targets, users only: ferry vs the plainest way to get the same rows there.
USERS_SQLITE="CREATE TABLE target_users (user_id INTEGER PRIMARY KEY, full_name TEXT, age_group TEXT NOT NULL, city TEXT, registered_date TIMESTAMP)"
to_file() { psql -q "$SRC" -c "COPY ($USERS_SQL) TO STDOUT (FORMAT binary)" > "$WORK/users.copy"; }
to_sqlite() { psql -q "$SRC" -c "COPY ($USERS_SQL) TO STDOUT" | "$BULK" "$WORK/bare.db" "$USERS_SQLITE" target_users; }
export -f to_file to_sqlite
export USERS_SQL USERS_SQLITE WORK BULK
targets="parquet sqlite"; [ -n "${SKIP_OTHERS:-}" ] && targets=""
for target in $targets; do
  case $target in
    parquet) baseline=to_file; url="file://$WORK/lake" ;;
    sqlite) baseline=to_sqlite; url="sqlite://$WORK/ferry.db" ;;
  esac
  alternate "$target" "$baseline" users --source "$URL/$SRC" --target "$url"
  per_second() { awk -v r="$ROWS" -v t="$1" 'BEGIN {printf "%.0f", r / t}'; }
  printf 'users -> %-7s %9d rows: %s median %ss (%s rows/s), ferry median %ss (%s rows/s), ratio %s, ferry peak RSS %d MB\n' \
    "$target" "$ROWS" "$baseline" "$base_median" "$(per_second "$base_median")" \
    "$ferry_median" "$(per_second "$ferry_median")" "$(ratio)" "$((ferry_rss / 1024))"
done

# MariaDB/MySQL -> PostgreSQL, users, when MYSQL_HOST names a server (user root, database
# ferry_src replaced): ferry vs the server's own client in batch mode piped into COPY.
if [ -n "${MYSQL_HOST:-}" ]; then
  MURL="mysql://${MYSQL_USER:-root}@$MYSQL_HOST:3306"
  mariadb -h "$MYSQL_HOST" -u "${MYSQL_USER:-root}" -e "DROP DATABASE IF EXISTS $SRC; CREATE DATABASE $SRC"
  "$FERRY" generate --rows "$ROWS" --to "$MURL/$SRC" >/dev/null
  from_mariadb() {
    psql -q "$DST" -c "TRUNCATE target_users"
    mariadb -h "$MYSQL_HOST" -u "${MYSQL_USER:-root}" --batch -N --quick "$SRC" -e "$USERS_SQL" |
      psql -q "$DST" -c "COPY target_users FROM STDIN (NULL 'NULL')"
  }
  export -f from_mariadb
  export MYSQL_HOST MYSQL_USER
  alternate mariadb from_mariadb users --source "$MURL/$SRC" --target "$URL/$DST"
  printf 'users mariadb -> postgres %9d rows: mariadb --batch | COPY median %ss, ferry median %ss, ratio %s, ferry peak RSS %d MB\n' \
    "$ROWS" "$base_median" "$ferry_median" "$(ratio)" "$((ferry_rss / 1024))"
  mariadb -h "$MYSQL_HOST" -u "${MYSQL_USER:-root}" -e "DROP DATABASE $SRC"
fi
