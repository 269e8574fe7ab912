//! A copy within one engine also makes the source's functions, procedures and aggregates (after
//! the tables' rows, before the views, which may call them) and its tables' triggers (last, so
//! that they do not fire on the copied rows). Their SQL is the engine's own and names the
//! source's schema, tables and columns: they are copied only between engines of one kind,
//! with the names kept, into a schema of the same name; otherwise each is reported skipped.

use crate::db::{Backend, Catalog, TableDef};
use crate::report::SchemaObject;

/// Why the source's routines and triggers cannot be made in the target, or None when they can.
pub(super) fn why_not(
    source: &dyn Backend,
    target: &dyn Backend,
    names_kept: bool,
    (from, to): (Option<&str>, Option<&str>),
) -> Option<String> {
    if source.name() != target.name() {
        return Some(format!("its code is {}'s; it moves only between engines of the same kind", source.name()));
    }
    if !names_kept {
        return Some("its code names the source's tables and columns; it is copied with --names keep".into());
    }
    match (from, to) {
        (Some(from), Some(to)) if from != to => Some(format!(
            "its code names the schema `{from}`; it is copied only into a schema of the same name, not `{to}`"
        )),
        _ => None,
    }
}

/// The routines and triggers as the report lists them, each with `status` and `detail`.
pub(super) fn listed(
    catalog: &Catalog,
    tables: &[TableDef],
    status: &'static str,
    detail: Option<&str>,
) -> Vec<SchemaObject> {
    let routines = catalog.routines.iter().map(|r| (r.name.clone(), r.kind.clone(), &r.create));
    let triggers = tables.iter().flat_map(|table| {
        table.triggers.iter().map(|t| (table.name.clone(), format!("{} {}", t.kind, t.name), &t.create))
    });
    routines
        .chain(triggers)
        .map(|(name, object, create)| {
            let detail = detail.map(str::to_string).or_else(|| Some(create.clone()).filter(|_| status == "planned"));
            SchemaObject::new(&name, object, status, detail)
        })
        .collect()
}

/// Makes the routines (`with_code`: a copy within one engine), then the triggers of `tables`:
/// theirs (`with_code`) and those that do what MySQL's `ON UPDATE CURRENT_TIMESTAMP` does, in a
/// target without that clause (made always: they are ferry's, not the source's code).
pub(super) async fn create(
    target: &dyn Backend,
    catalog: &Catalog,
    tables: &[TableDef],
    with_code: bool,
) -> Vec<SchemaObject> {
    let mut done = Vec::new();
    if with_code {
        let prelude = target.routine_prelude();
        let routines =
            catalog.routines.iter().map(|r| (r.name.clone(), r.kind.clone(), format!("{prelude}{}", r.create)));
        done = super::later::create_listed(target, routines.collect()).await;
    }
    let triggers = tables.iter().flat_map(|table| {
        let theirs = table.triggers.iter().filter(|_| with_code).cloned();
        let emulated = table.columns.iter().filter(|c| c.updated_now && !target.capabilities().updates_now);
        let emulated = emulated.filter_map(|c| target.updated_now_trigger(&table.name, &c.name));
        theirs.chain(emulated).map(|t| (table.name.clone(), format!("{} {}", t.kind, t.name), t.create))
    });
    done.extend(super::later::create_listed(target, triggers.collect()).await);
    done
}
