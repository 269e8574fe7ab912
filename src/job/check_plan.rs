//! Plan-time validation of checks against the job: the columns each check names, as far as the
//! query text shows them, the tables `relationships` point at, and the tables `sql` reads.

use std::collections::BTreeMap;

use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{Expr, SelectItem, SetExpr, Statement as SqlStatement};
use datafusion::sql::TableReference;

use super::checks::{Check, CheckKind};
use super::MigrationPlan;
use crate::error::{FerryError, Result};

/// The output columns of a query when its text names them all (no `*`, every expression
/// named), else None: then the columns are checked once the query is planned.
pub fn output_columns(sql: &str) -> Option<Vec<String>> {
    let Ok(Statement::Statement(statement)) = super::parse_query(sql) else { return None };
    let SqlStatement::Query(query) = *statement else { return None };
    let SetExpr::Select(select) = *query.body else { return None };
    let name = |ident: &datafusion::sql::sqlparser::ast::Ident| match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    };
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(name(alias)),
            SelectItem::UnnamedExpr(Expr::Identifier(ident)) => Some(name(ident)),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => parts.last().map(name),
            _ => None,
        })
        .collect()
}

/// One migration as the other migrations' checks see it.
pub struct Written<'a> {
    pub migration: &'a str,
    pub target: &'a str,
    pub columns: Option<Vec<String>>,
}

/// Validates `checks` of `migration` (writing `table` to connection `target`, with the output
/// `columns` when known) against the tables the job writes, by table name.
pub fn check_against_job(
    migration: &str,
    table: &str,
    target: &str,
    checks: &[Check],
    columns: Option<&[String]>,
    written: &BTreeMap<String, Written>,
) -> Result<()> {
    for check in checks {
        let fail =
            |message: String| FerryError::Job(format!("migration `{migration}`: check `{}`: {message}", check.name));
        let unknown = |column: &str, of: &str, known: &[String]| {
            let listed = known.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
            fail(format!("column `{column}` is not in {of}; it has: {listed}"))
        };
        if let Some(known) = columns {
            for column in check.kind.columns() {
                if !known.iter().any(|k| k == column) {
                    return Err(unknown(column, &format!("the query's output (the rows written to `{table}`)"), known));
                }
            }
        }
        match &check.kind {
            CheckKind::Relationships { table: to_table, to_column, .. } => {
                let Some(other) = written.get(to_table) else {
                    return Err(fail(format!("`to` names table `{to_table}`, which no migration of the job writes")));
                };
                if other.target != target {
                    return Err(fail(format!(
                        "`to` names table `{to_table}`, which migration `{}` writes to connection `{}`, not `{target}`; both tables must be in one target",
                        other.migration, other.target
                    )));
                }
                if let Some(known) = &other.columns {
                    if !known.iter().any(|k| k == to_column) {
                        return Err(unknown(
                            to_column,
                            &format!("table `{to_table}` (migration `{}`)", other.migration),
                            known,
                        ));
                    }
                }
            }
            CheckKind::Sql { sql } => {
                let statement = super::parse_query(sql).map_err(|e| fail(format!("`sql` does not parse: {e}")))?;
                let ctx = datafusion::prelude::SessionContext::new();
                let references = ctx.state().resolve_table_references(&statement).map_err(|e| fail(e.to_string()))?;
                let bare = table.rsplit('.').next().unwrap_or(table);
                for reference in references {
                    let fits = matches!(&reference, TableReference::Bare { table: name } if name.as_ref() == bare);
                    if !fits {
                        return Err(fail(format!(
                            "`sql` reads `{reference}`; it may only read the rows being checked, as table `{bare}`"
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks against the whole job: the columns they name, the tables they point at. A
/// `relationships` check makes its migration run after the one that writes the referenced table.
pub fn check_all_checks(migrations: &mut [MigrationPlan]) -> Result<()> {
    let columns: Vec<Option<Vec<String>>> = migrations.iter().map(|m| output_columns(&m.query_sql)).collect();
    let written: BTreeMap<String, Written> = migrations
        .iter()
        .zip(&columns)
        .map(|(m, columns)| {
            let entry = Written { migration: &m.name, target: &m.target.name, columns: columns.clone() };
            (m.table.clone(), entry)
        })
        .collect();
    for (migration, columns) in migrations.iter().zip(&columns) {
        check_against_job(
            &migration.name,
            &migration.table,
            &migration.target.name,
            &migration.checks,
            columns.as_deref(),
            &written,
        )?;
    }
    let writers: BTreeMap<String, String> = migrations.iter().map(|m| (m.table.clone(), m.name.clone())).collect();
    for migration in migrations.iter_mut() {
        for check in &migration.checks {
            if let CheckKind::Relationships { table, .. } = &check.kind {
                if let Some(writer) = writers.get(table) {
                    if writer != &migration.name && !migration.depends_on.contains(writer) {
                        migration.depends_on.push(writer.clone());
                    }
                }
            }
        }
    }
    Ok(())
}
