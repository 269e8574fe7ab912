//! The audit: a migration's checks compiled against the rows' schema and run in one pass over
//! the batches as they stream to the target. Row checks are DataFusion expressions evaluated on
//! each batch; checks that need the whole table (`unique`, `relationships`, `sql`) read the
//! columns they need from a spill file written during the same pass, with DataFusion queries.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::SchemaRef;
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;

use super::keyset::KeyProof;
use super::result::{quote, CheckResult, Finding};
use super::smallest::Smallest;
use super::spill::SharedSpill;
use super::table::{table_level, Spilled};
use crate::error::{FerryError, Result};
use crate::job::checks::{Check, CheckKind, Literal};
use crate::job::MigrationPlan;

pub struct Audit {
    migration: String,
    table: String,
    checks: Vec<Check>,
    findings: Vec<Finding>,
    row_checks: Vec<RowCheck>,
    rows: u64,
    /// One file for every partition's rows.
    spill: Option<SharedSpill>,
    /// `unique`/`relationships` checks that a bitmap may prove, skipping their table query.
    proofs: Vec<KeyProof>,
    /// Prefetched `relationships` targets: (check index, file of the referenced values); the
    /// files and the folder they are in belong to the audit, not to its forks.
    references: Vec<(usize, PathBuf)>,
    folder: Option<tempfile::TempDir>,
}

/// One failing-row predicate of a check, and the sample of its failing rows.
struct RowCheck {
    check: usize,
    failing: Arc<dyn PhysicalExpr>,
    sample: Smallest,
    /// Schema checks count NULLs per NOT NULL column: the column, for the finding's text.
    null_column: Option<String>,
    nulls: u64,
}

impl Audit {
    /// Compiles `checks` against `schema`, the rows as they will be written. `key` columns head
    /// every sample. Fails naming the check when a column is unknown or a type does not fit.
    pub fn new(
        plan: &MigrationPlan,
        schema: &SchemaRef,
        references: Vec<(usize, PathBuf)>,
        folder: tempfile::TempDir,
    ) -> Result<Audit> {
        let (migration, table, checks, key) = (&plan.name, &plan.table, &plan.checks, &plan.key);
        // SQLite stores every integer alike: its INTEGER matches any integer width.
        let one_integer_type = crate::db::open(&plan.target.endpoint).capabilities().one_integer_type;
        let ctx = SessionContext::new();
        let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
        let mut row_checks = Vec::new();
        let mut findings = Vec::new();
        let mut spilled: Vec<usize> = Vec::new();
        let mut proofs = Vec::new();
        for (index, check) in checks.iter().enumerate() {
            let fail = |message: String| {
                FerryError::Job(format!("migration `{migration}`: check `{}`: {message}", check.name))
            };
            let position = |column: &str| {
                schema.index_of(column).map_err(|_| {
                    let names: Vec<String> = schema.fields().iter().map(|f| format!("`{}`", f.name())).collect();
                    fail(format!(
                        "column `{column}` is not in the rows written to `{table}`; they have: {}",
                        names.join(", ")
                    ))
                })
            };
            let mut sample: Vec<usize> = Vec::new();
            for column in key.iter().map(String::as_str).chain(check.kind.columns()) {
                if let Ok(i) = schema.index_of(column) {
                    if !sample.contains(&i) {
                        sample.push(i);
                    }
                }
            }
            for column in check.kind.columns() {
                position(column)?;
            }
            check_literals(&check.kind, schema).map_err(fail)?;
            let mut finding = Finding::default();
            let predicates: Vec<(String, Option<String>)> = match &check.kind {
                CheckKind::Schema { columns, exact } => {
                    finding.problems = super::result::schema_problems(schema, columns, *exact, one_integer_type);
                    let nullable = columns.iter().filter(|c| c.not_null && schema.index_of(&c.name).is_ok());
                    nullable.map(|c| (format!("{} IS NULL", quote(&c.name)), Some(c.name.clone()))).collect()
                }
                CheckKind::NotNull { columns } => {
                    vec![(
                        columns.iter().map(|c| format!("{} IS NULL", quote(c))).collect::<Vec<_>>().join(" OR "),
                        None,
                    )]
                }
                CheckKind::AcceptedValues { column, values } => {
                    let list: Vec<String> = values.iter().map(|v| v.sql()).collect();
                    vec![(
                        value_check(
                            column,
                            &format!("{} NOT IN ({})", quote(column), list.join(", ")),
                            check.nulls_fail,
                        ),
                        None,
                    )]
                }
                CheckKind::Range { column, min, max } => {
                    let failing =
                        outside(&quote(column), min.as_ref().map(Literal::sql), max.as_ref().map(Literal::sql));
                    vec![(value_check(column, &failing, check.nulls_fail), None)]
                }
                CheckKind::Pattern { column, pattern } => {
                    let text = format!("CAST({} AS VARCHAR)", quote(column));
                    let failing = format!("NOT regexp_like({text}, '{}')", pattern.replace('\'', "''"));
                    vec![(value_check(column, &failing, check.nulls_fail), None)]
                }
                CheckKind::Length { column, min, max } => {
                    let length = format!("character_length(CAST({} AS VARCHAR))", quote(column));
                    let failing = outside(&length, min.map(|n| n.to_string()), max.map(|n| n.to_string()));
                    vec![(value_check(column, &failing, check.nulls_fail), None)]
                }
                CheckKind::Unique { columns } => {
                    let positions = columns.iter().map(|c| position(c)).collect::<Result<Vec<_>>>()?;
                    if let [only] = positions[..] {
                        proofs.extend(KeyProof::unique(index, only, schema.field(only).data_type()));
                    }
                    spilled.extend(positions);
                    vec![]
                }
                CheckKind::Relationships { column, table: to_table, to_column } => {
                    spilled.extend(sample.iter().copied());
                    let at = position(column)?;
                    spilled.push(at);
                    if to_table == table {
                        spilled.push(position(to_column)?);
                    } else if let Some((_, path)) = references.iter().find(|(i, _)| *i == index) {
                        let data_type = schema.field(at).data_type();
                        proofs.extend(KeyProof::referenced(index, at, data_type, path, check.nulls_fail)?);
                    }
                    vec![]
                }
                CheckKind::Sql { .. } => {
                    spilled.extend(0..schema.fields().len());
                    vec![]
                }
                CheckKind::RowCount { .. } => vec![],
            };
            for (sql, null_column) in predicates {
                let expr = ctx.parse_sql_expr(&sql, &df_schema).map_err(|e| fail(e.to_string()))?;
                let failing = ctx.create_physical_expr(expr, &df_schema).map_err(|e| fail(type_message(&e)))?;
                let columns = match &null_column {
                    Some(column) => key.iter().chain([column]).filter_map(|c| schema.index_of(c).ok()).collect(),
                    None => sample.clone(),
                };
                let order = key.iter().filter_map(|c| schema.index_of(c).ok()).collect();
                let sample = Smallest::new(order, columns);
                row_checks.push(RowCheck { check: index, failing, sample, null_column, nulls: 0 });
            }
            finding.sample_columns = match &check.kind {
                CheckKind::Schema { .. } => vec!["column".into(), "problem".into()],
                CheckKind::RowCount { .. } => vec![],
                CheckKind::Unique { columns } => columns.iter().cloned().chain(["occurrences".to_string()]).collect(),
                _ => sample.iter().map(|&i| schema.field(i).name().clone()).collect(),
            };
            findings.push(finding);
        }
        spilled.sort_unstable();
        spilled.dedup();
        let spill = match spilled.is_empty() {
            true => None,
            false => Some(SharedSpill::create(folder.path().join("staged.arrow"), schema, spilled)?),
        };
        Ok(Audit {
            migration: migration.clone(),
            table: table.clone(),
            checks: checks.clone(),
            findings,
            row_checks,
            rows: 0,
            spill,
            proofs,
            references,
            folder: Some(folder),
        })
    }

    /// The same checks with no row seen yet, for another partition of the rows. The forks
    /// write to the audit's spill file.
    pub fn fork(&self) -> Audit {
        let row_checks = self
            .row_checks
            .iter()
            .map(|r| RowCheck {
                check: r.check,
                failing: r.failing.clone(),
                sample: r.sample.fork(),
                null_column: r.null_column.clone(),
                nulls: 0,
            })
            .collect();
        Audit {
            migration: self.migration.clone(),
            table: self.table.clone(),
            checks: self.checks.clone(),
            findings: self.findings.iter().map(|f| Finding { failing: 0, sample: Vec::new(), ..f.clone() }).collect(),
            row_checks,
            rows: 0,
            spill: self.spill.clone(),
            proofs: self.proofs.iter().map(KeyProof::fork).collect(),
            references: Vec::new(),
            folder: None,
        }
    }

    /// Takes in what a fork saw.
    pub fn merge(&mut self, fork: Audit) {
        self.rows += fork.rows;
        for (finding, theirs) in self.findings.iter_mut().zip(fork.findings) {
            finding.failing += theirs.failing;
        }
        for (row_check, theirs) in self.row_checks.iter_mut().zip(fork.row_checks) {
            row_check.nulls += theirs.nulls;
            row_check.sample.merge(theirs.sample);
        }
        for (proof, theirs) in self.proofs.iter_mut().zip(fork.proofs) {
            proof.merge(theirs);
        }
    }

    /// Runs the row checks on `batch` and spills what the table checks need.
    pub fn observe(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        for row_check in &mut self.row_checks {
            let failing = row_check.failing.evaluate(batch)?.into_array(batch.num_rows())?;
            let failing =
                failing.as_boolean_opt().ok_or_else(|| FerryError::internal("a check did not yield booleans"))?;
            let count = failing.true_count();
            if count == 0 {
                continue;
            }
            if row_check.null_column.is_some() {
                row_check.nulls += count as u64;
                continue;
            }
            self.findings[row_check.check].failing += count as u64;
            row_check.sample.offer(batch, failing)?;
        }
        for proof in &mut self.proofs {
            proof.observe(batch)?;
        }
        if let Some(spill) = &self.spill {
            spill.write(batch)?;
        }
        Ok(())
    }

    /// The rows observed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Runs the table checks and judges every check; `source_rows` is what the run read (for
    /// `row_count` with `equals_source`), unknown outside a run.
    pub async fn finish(mut self, source_rows: Option<u64>) -> Result<Vec<CheckResult>> {
        let staged = self.spill.take().map(SharedSpill::finish).transpose()?;
        let spilled = Spilled::open(&self.table, staged, std::mem::take(&mut self.references)).await?;
        for (index, (check, finding)) in self.checks.iter().zip(self.findings.iter_mut()).enumerate() {
            if self.proofs.iter().any(|p| p.check == index && p.proven()) {
                continue;
            }
            table_level(&self.migration, index, check, finding, &spilled, self.rows, source_rows).await?;
        }
        for row_check in std::mem::take(&mut self.row_checks) {
            if let (Some(column), 1..) = (&row_check.null_column, row_check.nulls) {
                let problem = format!("holds {} NULL values but is declared NOT NULL", row_check.nulls);
                self.findings[row_check.check].problems.push((column.clone(), problem));
            }
            if row_check.null_column.is_none() {
                self.findings[row_check.check].sample.extend(row_check.sample.rows());
            }
        }
        let results = self.checks.iter().zip(self.findings).map(|(check, f)| f.judge(check, self.rows)).collect();
        drop(self.folder);
        Ok(results)
    }
}

/// Text bounds and values must read as the column's type (a date, a timestamp, a number):
/// checked now, since DataFusion casts them only when the rows come.
fn check_literals(kind: &CheckKind, schema: &SchemaRef) -> std::result::Result<(), String> {
    let (column, literals): (&String, Vec<&Literal>) = match kind {
        CheckKind::Range { column, min, max } => (column, min.iter().chain(max.iter()).collect()),
        CheckKind::AcceptedValues { column, values } => (column, values.iter().collect()),
        _ => return Ok(()),
    };
    let Ok(field) = schema.field_with_name(column) else { return Ok(()) };
    let options = arrow::compute::CastOptions { safe: false, ..Default::default() };
    for literal in literals {
        if let Literal::Text(text) = literal {
            let array = arrow::array::StringArray::from(vec![text.as_str()]);
            if arrow::compute::cast_with_options(&array, field.data_type(), &options).is_err() {
                return Err(format!("`{text}` is not a value of column `{column}`'s type ({})", field.data_type()));
            }
        }
    }
    Ok(())
}

/// `value` below `min` or above `max` (inclusive bounds; at least one is given).
fn outside(value: &str, min: Option<String>, max: Option<String>) -> String {
    let below = min.map(|min| format!("{value} < {min}"));
    let above = max.map(|max| format!("{value} > {max}"));
    below.into_iter().chain(above).collect::<Vec<_>>().join(" OR ")
}

/// A value check's failing predicate: NULL passes unless `nulls = "fail"`.
fn value_check(column: &str, failing: &str, nulls_fail: bool) -> String {
    format!("CASE WHEN {} IS NULL THEN {} ELSE ({failing}) END", quote(column), nulls_fail.to_string().to_uppercase())
}

/// DataFusion's type errors, shortened to what the user wrote wrong.
fn type_message(error: &datafusion::error::DataFusionError) -> String {
    let text = error.to_string();
    let text = text.strip_prefix("Error during planning: ").unwrap_or(&text);
    format!("the check does not fit the column's type: {text}")
}
