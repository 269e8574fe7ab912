//! The transform: a migration's SQL file, planned by DataFusion over the job's connections.
//!
//! Each connection is a schema of the session's catalog, so a query names `target.target_users`;
//! the migration's source connection is the default schema, so its tables need no prefix. Only
//! the connections a query names are opened, and every table it names is checked to exist before
//! planning, so a typo is reported with the tables that do exist.

mod rejects;

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::TableReference;

use crate::error::{FerryError, Result};
use crate::job::{Connection, MigrationPlan, Plan};
use crate::source::{schema_provider, ReadCounter};

pub use rejects::{RejectSplitter, REJECT_COLUMN, SOURCE_ROW_COLUMN};

const CATALOG: &str = "ferry";

/// Parses one SQL statement; the message carries the line and column of a syntax error.
pub fn parse_query(sql: &str) -> std::result::Result<Statement, String> {
    let mut statements = DFParser::parse_sql(sql).map_err(|error| match error {
        datafusion::error::DataFusionError::SQL(parser_error, _) => {
            let message = match *parser_error {
                datafusion::sql::sqlparser::parser::ParserError::ParserError(message)
                | datafusion::sql::sqlparser::parser::ParserError::TokenizerError(message) => message,
                other => other.to_string(),
            };
            let message = format!("SQL syntax error: {message}");
            if message.ends_with("found: EOF") {
                format!("{message} (the query ends too early)")
            } else {
                message
            }
        }
        other => other.to_string(),
    })?;
    match (statements.pop_front(), statements.is_empty()) {
        (Some(statement), true) => Ok(statement),
        (None, _) => Err("the file holds no SQL statement".into()),
        (Some(_), false) => Err("the file holds more than one statement; a query file holds one SELECT".into()),
    }
}

/// A session ready to plan `sql`, with `default` as the unqualified schema and every
/// connection that `sql` names registered. Returns the read counter of the default connection.
pub async fn session_for(
    plan: &Plan,
    default: &Connection,
    sql: &str,
    error: &dyn Fn(String) -> FerryError,
) -> Result<(SessionContext, Arc<ReadCounter>)> {
    let config = SessionConfig::new()
        .with_default_catalog_and_schema(CATALOG, &default.name)
        .with_create_default_catalog_and_schema(true)
        .with_information_schema(true)
        // Each source table arrives as one stream; splitting it across partitions only adds
        // repartitioning (measured: the orders join 15% slower with two on two cores).
        .with_target_partitions(1);
    let ctx = SessionContext::new_with_config(config);
    let statement = parse_query(sql).map_err(error)?;
    let references = ctx.state().resolve_table_references(&statement).map_err(|e| error(e.to_string()))?;
    let catalog = ctx.catalog(CATALOG).ok_or_else(|| FerryError::internal("the default catalog is missing"))?;
    let counter = Arc::new(ReadCounter::default());
    let mut opened = BTreeMap::new();
    for reference in references {
        let (connection_name, table) = match &reference {
            TableReference::Bare { table } => (default.name.clone(), table.to_string()),
            TableReference::Partial { schema, table } => (schema.to_string(), table.to_string()),
            TableReference::Full { catalog, schema, table } => {
                if catalog.as_ref() != CATALOG {
                    return Err(error(format!(
                        "`{reference}` names catalog `{catalog}`; write `connection.table` or `table`"
                    )));
                }
                (schema.to_string(), table.to_string())
            }
        };
        if connection_name == "information_schema" {
            continue;
        }
        let connection = plan.connections.get(&connection_name).ok_or_else(|| {
            let known: Vec<String> = plan.connections.keys().map(|k| format!("`{k}`")).collect();
            error(format!(
                "`{reference}` names connection `{connection_name}`, which the job does not define; it defines {}",
                known.join(", ")
            ))
        })?;
        if !opened.contains_key(&connection_name) {
            let reads =
                if connection_name == default.name { counter.clone() } else { Arc::new(ReadCounter::default()) };
            let provider = schema_provider(&ctx, &connection.endpoint, reads).await?;
            catalog
                .register_schema(&connection_name, provider.clone())
                .map_err(|e| FerryError::internal(e.to_string()))?;
            opened.insert(connection_name.clone(), provider);
        }
        let provider = &opened[&connection_name];
        if !provider.table_exist(&table) {
            let mut tables = provider.table_names();
            tables.sort();
            let listed = if tables.is_empty() {
                "it has no tables".to_string()
            } else {
                format!("it has: {}", tables.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", "))
            };
            return Err(error(format!(
                "table `{table}` does not exist in connection `{connection_name}` ({}); {listed}",
                connection.endpoint
            )));
        }
    }
    Ok((ctx, counter))
}

/// The session and plan for one migration's query.
pub async fn plan_migration(
    plan: &Plan,
    migration: &MigrationPlan,
) -> Result<(datafusion::dataframe::DataFrame, Arc<ReadCounter>)> {
    let error = |message: String| FerryError::Query {
        migration: migration.name.clone(),
        file: migration.query_file.clone(),
        message,
    };
    let (ctx, counter) = session_for(plan, &migration.source, &migration.query_sql, &error).await?;
    let frame = ctx.sql(&migration.query_sql).await.map_err(|e| match FerryError::from(e) {
        FerryError::Internal(message) => error(message),
        other => other,
    })?;
    Ok((frame, counter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_their_position() {
        let message = parse_query("SELECT id\nFROM t\nWHERE id > > 1").unwrap_err();
        assert_eq!(message, "SQL syntax error: Expected: an expression, found: > at Line: 3, Column: 12");
        let message = parse_query("SELECT id FROM t WHERE").unwrap_err();
        assert_eq!(message, "SQL syntax error: Expected: an expression, found: EOF (the query ends too early)");
        assert!(parse_query("SELECT 1; SELECT 2").unwrap_err().contains("more than one statement"));
        assert!(parse_query("  ").unwrap_err().contains("no SQL statement"));
    }
}
