//! Reading a MySQL/MariaDB database (the session's `DATABASE()`) into ferry's catalog model.

use std::collections::BTreeMap;

use super::connect::mysql_text_rows;
use crate::db::catalog::referential_action;
use crate::db::{
    Catalog, CheckDef, ColumnDef, ColumnDefault, ColumnType, ForeignKeyDef, Generated, IndexDef, Partitioning,
    RoutineDef, TableDef, Unsupported, ViewDef,
};

pub fn read(connection: &mut mysql::Conn) -> Result<Catalog, mysql::Error> {
    let names = mysql_text_rows(
        connection,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() \
         AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_ferry\\_%' ORDER BY 1",
        Vec::new(),
    )?;
    let mut tables = Vec::new();
    for name in names.into_iter().filter_map(|row| row.into_iter().next().flatten()) {
        tables.push(table(connection, name)?);
    }
    Ok(Catalog { tables, views: views(connection)?, routines: routines(connection)?, ..Default::default() })
}

/// The database's functions and procedures as `SHOW CREATE` writes them, without their
/// `DEFINER` (the copy's user makes them; naming another takes a privilege it may not have).
/// One whose text the user may not see is left out.
fn routines(connection: &mut mysql::Conn) -> Result<Vec<RoutineDef>, mysql::Error> {
    let listed = mysql_text_rows(
        connection,
        "SELECT lower(routine_type), routine_name FROM information_schema.routines \
         WHERE routine_schema = DATABASE() ORDER BY routine_type = 'PROCEDURE', created, 2",
        Vec::new(),
    )?;
    let mut routines = Vec::new();
    for row in listed {
        let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let (kind, name) = (text(0), text(1));
        let shown = format!("SHOW CREATE {} {}", kind.to_ascii_uppercase(), super::ddl::quote(&name));
        let create = mysql_text_rows(connection, &shown, Vec::new())?
            .into_iter()
            .next()
            .and_then(|row| row.get(2).cloned().flatten());
        if let Some(create) = create {
            routines.push(RoutineDef { kind, name, create: without_definer(&create) });
        }
    }
    Ok(routines)
}

/// A partitioned table's `PARTITION BY` clause as `SHOW CREATE TABLE` writes it (MySQL within a
/// version comment, MariaDB bare), partitions included: MySQL makes them with the table.
fn partitioning(connection: &mut mysql::Conn, table: &str) -> Result<Option<Partitioning>, mysql::Error> {
    let shown = format!("SHOW CREATE TABLE {}", super::ddl::quote(table));
    let create = mysql_text_rows(connection, &shown, Vec::new())?
        .into_iter()
        .next()
        .and_then(|row| row.get(1).cloned().flatten())
        .unwrap_or_default();
    Ok(create.split_once("PARTITION BY ").map(|(before, clause)| {
        let clause = match before.trim_end().ends_with("/*!50100") {
            true => clause.trim_end().trim_end_matches("*/"),
            false => clause,
        };
        Partitioning { key: clause.trim().to_string(), partitions: Vec::new() }
    }))
}

/// `CREATE DEFINER=`root`@`localhost` FUNCTION ...` as `CREATE FUNCTION ...`.
fn without_definer(create: &str) -> String {
    let Some(start) = create.find("DEFINER=") else { return create.to_string() };
    let rest = &create.as_bytes()[start..];
    // `user`@`host`, back-quoted with doubled back-quotes inside: it ends at a space outside them.
    let (mut quoted, mut at) = (false, 0);
    while at < rest.len() {
        match rest[at] {
            b'`' if quoted && rest.get(at + 1) == Some(&b'`') => at += 1,
            b'`' => quoted = !quoted,
            byte if !quoted && byte.is_ascii_whitespace() => {
                return format!("{}{}", &create[..start], create[start + at..].trim_start());
            }
            _ => {}
        }
        at += 1;
    }
    create.to_string()
}

/// The database's views, their definitions without the database's name (which
/// `information_schema` writes before every table and column).
fn views(connection: &mut mysql::Conn) -> Result<Vec<ViewDef>, mysql::Error> {
    let rows = mysql_text_rows(
        connection,
        "SELECT table_name, view_definition, DATABASE() FROM information_schema.views \
         WHERE table_schema = DATABASE() ORDER BY 1",
        Vec::new(),
    )?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            let (name, definition, database) = (text(0), text(1), text(2));
            let bare = definition.replace(&format!("{}.", super::ddl::quote(&database)), "");
            ViewDef { create: format!("CREATE VIEW {} AS {bare}", super::ddl::quote(&name)), name }
        })
        .collect())
}

fn table(connection: &mut mysql::Conn, name: String) -> Result<TableDef, mysql::Error> {
    let parameter = || vec![mysql::Value::from(name.clone())];
    let rows = mysql_text_rows(
        connection,
        "SELECT column_name, data_type, column_type, is_nullable, column_default, extra, \
         character_maximum_length, numeric_precision, numeric_scale, column_comment, generation_expression \
         FROM information_schema.columns \
         WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
        parameter(),
    )?;
    let text = |row: &[Option<String>], i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let number = |row: &[Option<String>], i: usize| row.get(i).cloned().flatten().and_then(|v| v.parse::<u64>().ok());
    let columns: Vec<ColumnDef> = rows
        .iter()
        .map(|row| {
            let (data_type, declared) = (text(row, 1).to_ascii_lowercase(), text(row, 2));
            let extra = text(row, 5).to_ascii_lowercase();
            let computed = extra.contains("virtual generated") || extra.contains("stored generated");
            let generated = Some(text(row, 10))
                .filter(|expression| computed && !expression.is_empty())
                .map(|expression| Generated { expression, stored: extra.contains("stored generated") });
            let column_type = match data_type.as_str() {
                "enum" => ColumnType::Enum { name: format!("{name}_{}", text(row, 0)), labels: labels(&declared) },
                "set" => ColumnType::Set { labels: labels(&declared) },
                _ => native(
                    column_type(&data_type, &declared, number(row, 6), number(row, 7), number(row, 8)),
                    &declared,
                ),
            };
            ColumnDef {
                name: text(row, 0),
                default: row
                    .get(4)
                    .cloned()
                    .flatten()
                    .filter(|d| !d.eq_ignore_ascii_case("null") && generated.is_none())
                    .map(|d| parse_default(d, &column_type, &extra)),
                column_type,
                declared,
                nullable: text(row, 3) == "YES",
                identity: extra.contains("auto_increment"),
                comment: Some(text(row, 9)).filter(|c| !c.is_empty()),
                updated_now: extra.contains("on update current_timestamp"),
                generated,
            }
        })
        .collect();
    let rows = mysql_text_rows(
        connection,
        "SELECT index_name, non_unique, column_name, index_type, sub_part FROM information_schema.statistics \
         WHERE table_schema = DATABASE() AND table_name = ? ORDER BY index_name, seq_in_index",
        parameter(),
    )?;
    let mut indexes: BTreeMap<String, IndexDef> = BTreeMap::new();
    let mut expression: Vec<String> = Vec::new();
    for row in &rows {
        let index = text(row, 0);
        let Some(column) = row.get(2).cloned().flatten() else {
            if !expression.contains(&index) {
                expression.push(index); // a functional index (MySQL 8) has no portable form
            }
            continue;
        };
        let unique = text(row, 1) == "0";
        // FULLTEXT and SPATIAL indexes are MySQL's own.
        let kind = Some(text(row, 3).to_ascii_uppercase()).filter(|kind| kind == "FULLTEXT" || kind == "SPATIAL");
        let entry = indexes.entry(index.clone()).or_insert_with(|| IndexDef {
            name: index,
            unique,
            native: kind.map(|kind| format!("CREATE {kind} INDEX")),
            ..Default::default()
        });
        entry.columns.push(column);
        entry.prefixes.push(number(row, 4).map(|length| length as u32));
    }
    for index in indexes.values_mut().filter(|index| index.prefixes.iter().all(Option::is_none)) {
        index.prefixes.clear();
    }
    for index in indexes.values_mut() {
        if let Some(native) = &mut index.native {
            let columns: Vec<String> = index.columns.iter().map(|c| super::ddl::quote(c)).collect();
            *native = format!(
                "{native} {} ON {} ({})",
                super::ddl::quote(&index.name),
                super::ddl::quote(&name),
                columns.join(", ")
            );
        }
    }
    let primary_key = indexes.remove("PRIMARY").map(|i| i.columns).unwrap_or_default();
    let rows = mysql_text_rows(
        connection,
        "SELECT k.constraint_name, k.column_name, k.referenced_table_name, k.referenced_column_name, \
         r.delete_rule, r.update_rule FROM information_schema.key_column_usage k \
         JOIN information_schema.referential_constraints r ON r.constraint_schema = k.table_schema \
         AND r.constraint_name = k.constraint_name AND r.table_name = k.table_name \
         WHERE k.table_schema = DATABASE() AND k.table_name = ? AND k.referenced_table_name IS NOT NULL \
         ORDER BY k.constraint_name, k.ordinal_position",
        parameter(),
    )?;
    let mut keys: BTreeMap<String, ForeignKeyDef> = BTreeMap::new();
    for row in &rows {
        let key = keys.entry(text(row, 0)).or_insert_with(|| ForeignKeyDef {
            name: text(row, 0),
            columns: Vec::new(),
            referenced_table: text(row, 2),
            referenced_columns: Vec::new(),
            on_delete: action(&text(row, 4)),
            on_update: action(&text(row, 5)),
        });
        key.columns.push(text(row, 1));
        key.referenced_columns.push(text(row, 3));
    }
    // MariaDB's JSON is LONGTEXT with a json_valid check, which its JSON type makes again.
    let checks = mysql_text_rows(
        connection,
        "SELECT c.constraint_name, c.check_clause FROM information_schema.check_constraints c \
         JOIN information_schema.table_constraints t ON t.constraint_schema = c.constraint_schema \
         AND t.constraint_name = c.constraint_name AND t.table_name = ? \
         WHERE t.table_schema = DATABASE() AND t.constraint_type = 'CHECK' ORDER BY 1",
        parameter(),
    )
    .unwrap_or_default() // servers older than MySQL 8.0.16 / MariaDB 10.2 keep no checks
    .iter()
    .map(|row| CheckDef { name: text(row, 0), clause: format!("CHECK ({})", text(row, 1)) })
    .filter(|check| !check.clause.starts_with("CHECK (json_valid("))
    .collect();
    let about = mysql_text_rows(
        connection,
        "SELECT table_comment, create_options FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name = ?",
        parameter(),
    )?;
    let about = |i: usize| about.first().and_then(|row| row.get(i).cloned().flatten()).unwrap_or_default();
    let comment = Some(about(0)).filter(|c| !c.is_empty());
    let partitioning = match about(1).contains("partitioned") {
        true => partitioning(connection, &name)?,
        false => None,
    };
    let triggers = mysql_text_rows(
        connection,
        "SELECT trigger_name, concat('CREATE TRIGGER `', replace(trigger_name, '`', '``'), '` ', action_timing, ' ', \
           event_manipulation, ' ON `', replace(event_object_table, '`', '``'), '` FOR EACH ROW ', action_statement) \
         FROM information_schema.triggers \
         WHERE event_object_schema = DATABASE() AND event_object_table = ? ORDER BY action_order, 1",
        parameter(),
    )?
    .into_iter()
    .map(|row| RoutineDef { kind: "trigger".into(), name: text(&row, 0), create: text(&row, 1) })
    .collect();
    Ok(TableDef {
        comment,
        name,
        columns: columns.into_iter().map(ColumnDef::portable).collect(),
        primary_key,
        indexes: indexes.into_values().filter(|i| !expression.contains(&i.name)).collect(),
        foreign_keys: keys.into_values().collect(),
        later_keys: Vec::new(),
        triggers,
        unsupported: expression
            .into_iter()
            .map(|index| Unsupported {
                object: format!("index {index}"),
                reason: "an expression index has no portable form".into(),
            })
            .collect(),
        checks,
        inherits: Vec::new(),
        partitioning,
    })
}

/// A rule of `referential_constraints`. InnoDB checks RESTRICT and NO ACTION alike, at once, and
/// MariaDB reports an unstated rule as RESTRICT: both are "no action".
fn action(rule: &str) -> Option<String> {
    referential_action(rule).filter(|action| action != "RESTRICT")
}

/// The labels of `enum('a','b','it''s')` or `set(...)`.
fn labels(declared: &str) -> Vec<String> {
    let inner = declared.trim_start_matches("enum(").trim_start_matches("set(").trim_end_matches(')');
    let mut labels = Vec::new();
    let mut label = String::new();
    let mut quoted = false;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('\'', true) if chars.peek() == Some(&'\'') => {
                label.push('\'');
                chars.next();
            }
            ('\'', true) => {
                labels.push(std::mem::take(&mut label));
                quoted = false;
            }
            ('\'', false) => quoted = true,
            (c, true) => label.push(c),
            _ => {}
        }
    }
    labels
}

/// The portable type of a column from `information_schema.columns`.
fn column_type(
    data_type: &str,
    declared: &str,
    length: Option<u64>,
    precision: Option<u64>,
    scale: Option<u64>,
) -> ColumnType {
    let unsigned = declared.contains("unsigned");
    match data_type {
        "tinyint" if declared.starts_with("tinyint(1)") => ColumnType::Boolean,
        "tinyint" | "year" => ColumnType::SmallInt,
        "smallint" if !unsigned => ColumnType::SmallInt,
        "smallint" | "mediumint" => ColumnType::Integer,
        "int" | "integer" if !unsigned => ColumnType::Integer,
        "int" | "integer" => ColumnType::BigInt,
        "bigint" if !unsigned => ColumnType::BigInt,
        "bigint" => ColumnType::Decimal(Some((20, 0))),
        // A bit field's value is read as the integer its bits spell.
        "bit" => match precision.unwrap_or(64) {
            ..=15 => ColumnType::SmallInt,
            16..=31 => ColumnType::Integer,
            32..=63 => ColumnType::BigInt,
            _ => ColumnType::Decimal(Some((20, 0))),
        },
        "float" => ColumnType::Real,
        "double" | "real" => ColumnType::Double,
        "decimal" | "numeric" => match (precision, scale) {
            (Some(p), Some(s)) => ColumnType::Decimal(Some((p as u8, s as i8))),
            _ => ColumnType::Decimal(None),
        },
        "varchar" => length.map_or(ColumnType::Text, |l| ColumnType::Varchar(l as u32)),
        "char" => length.map_or(ColumnType::Text, |l| ColumnType::Char(l as u32)),
        "tinytext" | "text" | "mediumtext" | "longtext" => ColumnType::Text,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => ColumnType::Binary,
        "date" => ColumnType::Date,
        "time" => ColumnType::Time,
        "datetime" => ColumnType::Timestamp,
        "timestamp" => ColumnType::TimestampTz,
        "json" => ColumnType::Json,
        _ => ColumnType::Other(declared.to_string()),
    }
}

/// The portable type, or MySQL's own spelling where ferry's DDL would write another type
/// (`year`, `mediumint`, unsigned integers, `datetime(3)`, `tinytext`...).
fn native(portable: ColumnType, declared: &str) -> ColumnType {
    if matches!(portable, ColumnType::Other(_) | ColumnType::Boolean) {
        return portable;
    }
    let written =
        super::ddl::type_sql(&ColumnDef::new("c", portable.clone()), false).to_ascii_lowercase().replace(' ', "");
    let declared_lower = declared.to_ascii_lowercase().replace(' ', "");
    // MariaDB and MySQL 5 print integers with a display width: `int(11)` is `int`.
    let bare = match declared_lower.split_once('(') {
        Some((base, rest)) if base.ends_with("int") && !rest.contains(',') => {
            format!("{base}{}", rest.split_once(')').map(|(_, tail)| tail).unwrap_or_default())
        }
        _ => declared_lower.clone(),
    };
    if bare == written {
        return portable;
    }
    ColumnType::Native { declared: declared.to_string(), portable: Box::new(portable) }
}

/// A default as `information_schema` shows it: MariaDB quotes literals, MySQL does not.
fn parse_default(text: String, column_type: &ColumnType, extra: &str) -> ColumnDefault {
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("current_timestamp") {
        return ColumnDefault::CurrentTimestamp;
    }
    if extra.contains("default_generated") {
        return ColumnDefault::Expression(text);
    }
    // A bit field's default (`b'101'`) as the integer it spells, which every engine reads.
    let bits = text.strip_prefix("b'").and_then(|rest| rest.strip_suffix('\''));
    if let Some(value) = bits.and_then(|bits| u64::from_str_radix(bits, 2).ok()) {
        return ColumnDefault::Literal(value.to_string());
    }
    let quoted = text.starts_with('\'') && text.ends_with('\'');
    let numeric = column_type.is_number() || matches!(column_type.portable(), ColumnType::Boolean);
    match (quoted, numeric) {
        (true, _) => ColumnDefault::Literal(text),
        (false, true) if text.parse::<f64>().is_ok() => ColumnDefault::Literal(text),
        (false, false) => ColumnDefault::Literal(format!("'{}'", text.replace('\'', "''"))),
        _ => ColumnDefault::Expression(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definer_is_left_out() {
        let shown = "CREATE DEFINER=`root`@`localhost` FUNCTION `f`(a INT) RETURNS int(11)\nRETURN a";
        assert_eq!(without_definer(shown), "CREATE FUNCTION `f`(a INT) RETURNS int(11)\nRETURN a");
        let odd = "CREATE DEFINER=`o``dd`@`%` PROCEDURE `p`() SELECT 1";
        assert_eq!(without_definer(odd), "CREATE PROCEDURE `p`() SELECT 1");
        assert_eq!(
            without_definer("CREATE FUNCTION f() RETURNS int RETURN 1"),
            "CREATE FUNCTION f() RETURNS int RETURN 1"
        );
    }
}
