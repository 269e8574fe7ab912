#!/usr/bin/env bash
# What verifying a publish costs: the shipped job (checks and reconciliation on), PostgreSQL ->
# PostgreSQL, against the raw binary COPY pipe, in alternating runs; and the same job with
# `reconcile = false`. With OLD=path/to/an/older/ferry, that binary's shipped job too (e.g. one
# that read the published table back, to compare with the database's own digest).
#
#   benches/verify.sh [ROWS] [RUNS]     default 1,000,000 users (3,000,000 orders), 5 runs
#   OLD=/tmp/old/ferry benches/verify.sh
DEFAULT_ROWS=1000000 DEFAULT_RUNS=5
source "$(dirname "$0")/common.sh"
pg_pair
export SRC DST
sed 's/^\[\[migrations\]\]$/[[migrations]]\nreconcile = false/' "$WORK/job.toml" > "$WORK/unverified.toml"
psql -q "$DST" <<'SQL'
CREATE TABLE target_users (user_id INTEGER PRIMARY KEY, full_name VARCHAR(100), age_group VARCHAR(10) NOT NULL, city VARCHAR(50), registered_date TIMESTAMP);
CREATE TABLE target_orders (order_id INTEGER PRIMARY KEY, user_id INTEGER, order_total DECIMAL(10, 2), order_date TIMESTAMP);
SQL
USERS_SQL="SELECT id, name, CASE WHEN age IS NULL THEN 'unknown' WHEN age < 30 THEN '<30' WHEN age <= 40 THEN '30-40' ELSE '>40' END, city, created_at FROM source_table"
ORDERS_SQL="SELECT order_id, user_id, order_total, order_date FROM source_orders"
pipe() { # $1 target table, $2 query
  psql -q "$DST" -c "TRUNCATE $1"
  psql -q "$SRC" -c "COPY ($2) TO STDOUT (FORMAT binary)" | psql -q "$DST" -c "COPY $1 FROM STDIN (FORMAT binary)"
}
seconds() { /usr/bin/time -o "$WORK/time" -f '%e' "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }; cat "$WORK/time"; }
ratio() { awk -v f="$1" -v p="$2" 'BEGIN {printf "%.2fx", f / p}'; }

for migration in users orders; do
  table=target_$migration; sql=$USERS_SQL; [ $migration = orders ] && sql=$ORDERS_SQL
  args=(run "$migration" --source "$URL/$SRC" --target "$URL/$DST")
  : > "$WORK/pipe"; : > "$WORK/shipped"; : > "$WORK/unverified"; : > "$WORK/old"
  for run in $(seq 1 "$RUNS"); do
    p=$(seconds bash -c "$(declare -f pipe); pipe $table \"$sql\"")
    s=$(seconds "$FERRY" "${args[@]}" --job "$WORK/job.toml")
    u=$(seconds "$FERRY" "${args[@]}" --job "$WORK/unverified.toml")
    o=-; [ -n "${OLD:-}" ] && o=$(seconds "$OLD" "${args[@]}" --job "$WORK/job.toml")
    echo "$p" >> "$WORK/pipe"; echo "$s" >> "$WORK/shipped"; echo "$u" >> "$WORK/unverified"; echo "$o" >> "$WORK/old"
    printf '%-6s run %d: pipe %6ss  shipped %6ss  reconcile=false %6ss  old %6ss\n' "$migration" "$run" "$p" "$s" "$u" "$o"
  done
  p=$(median < "$WORK/pipe"); s=$(median < "$WORK/shipped"); u=$(median < "$WORK/unverified")
  line="$migration medians: pipe ${p}s, shipped ${s}s = $(ratio "$s" "$p"), reconcile=false ${u}s = $(ratio "$u" "$p")"
  [ -n "${OLD:-}" ] && { o=$(median < "$WORK/old"); line="$line, old ${o}s = $(ratio "$o" "$p")"; }
  echo "$line"
done
