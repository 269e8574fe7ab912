# Sourced by the bench scripts, with their arguments, after DEFAULT_ROWS and DEFAULT_RUNS: sets
# ROWS and RUNS, the release binary FERRY, PostgreSQL's PGHOST/PGUSER (127.0.0.1, postgres), a
# work folder WORK removed at exit, checks for GNU time, and defines median and pg_pair.
set -euo pipefail
ROWS=${1:-${DEFAULT_ROWS:-1000000}}
RUNS=${2:-${DEFAULT_RUNS:-3}}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FERRY=${FERRY:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ferry}
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
[ -x "$FERRY" ] || { echo "no release binary at $FERRY; run: cargo build --release" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "GNU time is missing: apt-get install time" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# pg_pair: databases ferry_src (ROWS users generated, 3 x ROWS orders) and ferry_dst made anew
# (SRC, DST, URL name them), and the shipped job with its queries by absolute path at
# $WORK/job.toml.
pg_pair() {
  SRC=ferry_src DST=ferry_dst URL="postgres://$PGUSER@$PGHOST:5432"
  for db in $SRC $DST; do dropdb --if-exists "$db"; createdb "$db"; done
  "$FERRY" generate --rows "$ROWS" --to "$URL/$SRC" >/dev/null
  psql -q "$SRC" -c "VACUUM ANALYZE" >/dev/null
  sed "s|query = \"queries/|query = \"$ROOT/queries/|" "$ROOT/ferry.toml" > "$WORK/job.toml"
}
