#!/usr/bin/env bash
# Ad-hoc SQL: `ferry sql` (whole subqueries pushed to the database) against the database's own
# client running the same query, and against `ferry sql --no-pushdown` (DataFusion computing
# everything from the rows it pulls), in alternating runs; prints each run and the medians.
#
#   benches/pushdown.sh [ROWS] [RUNS]     default 5,000,000 users (15,000,000 orders), 5 runs
#
# PostgreSQL gets the generated tables and target_users (the users migration's output, made in
# SQL); MariaDB/MySQL at $MYSQL_URL (default mysql://root@127.0.0.1:3306) gets the users, for
# the queries there and the join across the two. Databases ferry_src and ferry_push are replaced
# (SETUP=0 keeps them from the last run). MEMORY sets the job's memory_limit (default 4GB).
DEFAULT_ROWS=5000000 DEFAULT_RUNS=5
source "$(dirname "$0")/common.sh"
MYSQL_URL=${MYSQL_URL:-mysql://root@127.0.0.1:3306}
export SRC=ferry_src PG="postgres://$PGUSER@$PGHOST:5432/ferry_src" MY="$MYSQL_URL/ferry_push"
if [ "${SETUP:-1}" = 1 ]; then
dropdb --if-exists $SRC; createdb $SRC
mysql -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS ferry_push; CREATE DATABASE ferry_push CHARACTER SET utf8mb4"
"$FERRY" generate --rows "$ROWS" --to "$PG" >/dev/null
"$FERRY" copy --source "$PG" --target "$MY" --tables source_table >/dev/null
psql -q $SRC <<'SQL'
CREATE TABLE target_users AS SELECT id AS user_id, name AS full_name,
  CASE WHEN age IS NULL THEN 'unknown' WHEN age < 30 THEN '<30' WHEN age <= 40 THEN '30-40' ELSE '>40' END AS age_group,
  city, created_at AS registered_date FROM source_table;
VACUUM ANALYZE;
SQL
mysql -h 127.0.0.1 -u root ferry_push -e "ANALYZE TABLE source_table" >/dev/null
fi
# Without pushdown the top-N query groups 5M users in ferry, past the default 512MB budget.
printf 'memory_limit = "%s"\n[connections]\npg = "%s"\nmy = "%s"\n' "${MEMORY:-4GB}" "$PG" "$MY" > "$WORK/job.toml"

# name | the query as ferry runs it (pg. and my. name the connections) | the database's client
QUERIES=(
  "aggregate|SELECT age_group, count(*) AS n, min(registered_date) AS first FROM pg.target_users GROUP BY age_group ORDER BY n DESC|psql"
  "top-N|SELECT user_id, sum(order_total) AS spent FROM pg.source_orders GROUP BY user_id ORDER BY spent DESC LIMIT 10|psql"
  "join|SELECT u.age, count(*) AS orders, sum(o.order_total) AS total FROM pg.source_orders o JOIN pg.source_table u ON u.id = o.user_id WHERE u.age > 60 GROUP BY u.age ORDER BY orders DESC LIMIT 5|psql"
  "mysql aggregate|SELECT age, count(*) AS n, min(created_at) AS first FROM my.source_table GROUP BY age ORDER BY n DESC LIMIT 5|mysql"
  "across|SELECT u.age, count(*) AS orders FROM pg.source_orders o JOIN my.source_table u ON u.id = o.user_id WHERE u.age > 60 GROUP BY u.age ORDER BY orders DESC LIMIT 5|-"
)

seconds() { /usr/bin/time -o "$WORK/time" -f '%e' "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }; cat "$WORK/time"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a / b}'; }
client() { # $1 client, $2 query without connection names
  case $1 in
    psql) psql -q -At $SRC -c "$2" ;;
    mysql) mysql -h 127.0.0.1 -u root ferry_push -e "$2" ;;
  esac
}

summary=()
for entry in "${QUERIES[@]}"; do
  IFS='|' read -r name sql own <<< "$entry"
  plain=${sql//pg./}; plain=${plain//my./}
  : > "$WORK/ferry"; : > "$WORK/pulled"; : > "$WORK/own"
  for run in $(seq 1 "$RUNS"); do
    f=$(seconds "$FERRY" sql --job "$WORK/job.toml" --format csv "$sql")
    p=$(seconds "$FERRY" sql --job "$WORK/job.toml" --format csv --no-pushdown "$sql")
    o=-; [ "$own" != - ] && o=$(seconds bash -c "$(declare -f client); client \"\$@\"" _ "$own" "$plain")
    echo "$f" >> "$WORK/ferry"; echo "$p" >> "$WORK/pulled"; echo "$o" >> "$WORK/own"
    printf '%-16s run %d: ferry sql %6ss  --no-pushdown %6ss  %s %6ss\n' "$name" "$run" "$f" "$p" "$own" "$o"
  done
  f=$(median < "$WORK/ferry"); p=$(median < "$WORK/pulled")
  line="$name: ferry sql ${f}s, --no-pushdown ${p}s (= $(ratio "$p" "$f") ferry sql's time)"
  if [ "$own" != - ]; then o=$(median < "$WORK/own"); line="$line, $own ${o}s: ferry sql = $(ratio "$f" "$o") of $own"; fi
  summary+=("$line")
done
echo "medians of $RUNS runs, $ROWS users / $((ROWS * 3)) orders:"
printf '  %s\n' "${summary[@]}"
