//! The baseline `benches/compare.sh` measures ferry's SQLite target against: rows in
//! PostgreSQL's text COPY format on stdin (tab-separated, `\N` for NULL, no escapes expected),
//! inserted into a SQLite table with one prepared statement in one transaction.
//!
//!   psql -c "COPY (...) TO STDOUT" | sqlite_bulk_insert FILE.db "CREATE TABLE t (...)" t

use std::io::BufRead;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, create, table] = args.as_slice() else {
        return Err("usage: sqlite_bulk_insert FILE.db CREATE_TABLE_SQL TABLE".into());
    };
    let mut connection = rusqlite::Connection::open(path)?;
    connection.execute_batch(&format!("DROP TABLE IF EXISTS {table}; {create}"))?;
    let transaction = connection.transaction()?;
    let mut rows = 0u64;
    {
        let mut statement = None;
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            let values: Vec<Option<&str>> = line.split('\t').map(|v| (v != "\\N").then_some(v)).collect();
            let statement = match &mut statement {
                Some(statement) => statement,
                None => {
                    let marks = vec!["?"; values.len()].join(", ");
                    statement.insert(transaction.prepare(&format!("INSERT INTO {table} VALUES ({marks})"))?)
                }
            };
            statement.execute(rusqlite::params_from_iter(values))?;
            rows += 1;
        }
    }
    transaction.commit()?;
    eprintln!("{rows} rows");
    Ok(())
}
