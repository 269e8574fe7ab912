//! Reading a PostgreSQL schema (the session's `current_schema()`) into ferry's catalog model.

use tokio_postgres::{Client, Error};

use crate::db::{
    Catalog, CheckDef, ColumnDef, ColumnDefault, ColumnType, ForeignKeyDef, Generated, IndexDef, Partition,
    Partitioning, RoutineDef, TableDef, ViewDef,
};

/// The schema's functions and procedures as `pg_get_functiondef` writes them, then its
/// aggregates as `CREATE AGGREGATE` (which PostgreSQL does not write back); not an extension's.
const ROUTINES: &str =
    "SELECT CASE p.prokind WHEN 'a' THEN 'aggregate' WHEN 'p' THEN 'procedure' ELSE 'function' END, \
    p.proname::text, CASE WHEN p.prokind = 'a' THEN \
      (SELECT format('CREATE AGGREGATE %I.%I(%s) (SFUNC = %s, STYPE = %s%s%s)', n.nspname, p.proname, \
         pg_get_function_identity_arguments(p.oid), a.aggtransfn::regproc, format_type(a.aggtranstype, NULL), \
         ', FINALFUNC = ' || nullif(a.aggfinalfn::oid, 0)::regproc, ', INITCOND = ' || quote_literal(a.agginitval)) \
       FROM pg_aggregate a WHERE a.aggfnoid = p.oid) \
    ELSE pg_get_functiondef(p.oid) END \
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
  WHERE n.nspname = current_schema() AND p.prokind IN ('f', 'p', 'a') AND NOT EXISTS \
    (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') \
  ORDER BY p.prokind = 'a', p.oid";

pub async fn read(client: &Client) -> Result<Catalog, Error> {
    let names = client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
             AND c.relname NOT LIKE '\\_ferry\\_%' ORDER BY 1",
            &[],
        )
        .await?;
    let mut tables = Vec::new();
    for row in names {
        let name: String = row.get(0);
        tables.push(table(client, name).await?);
    }
    let views = client
        .query(
            "SELECT c.relname::text, pg_get_viewdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind = 'v' ORDER BY c.oid",
            &[],
        )
        .await?
        .iter()
        .map(|row| {
            let (name, definition): (String, String) = (row.get(0), row.get(1));
            let create = format!("CREATE VIEW {} AS {}", super::ddl::quote(&name), definition.trim().trim_end_matches(';'));
            ViewDef { name, create }
        })
        .collect();
    let extensions = client
        .query("SELECT extname::text FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let routines = client
        .query(ROUTINES, &[])
        .await?
        .iter()
        .map(|row| RoutineDef { kind: row.get(0), name: row.get(1), create: row.get(2) })
        .collect();
    // None when no schema of the search path exists yet (a target schema the copy makes).
    let schema: Option<String> = client.query_one("SELECT current_schema()::text", &[]).await?.get(0);
    Ok(Catalog { tables, views, extensions, routines, schema })
}

async fn table(client: &Client, name: String) -> Result<TableDef, Error> {
    let oid = super::ddl::quote(&name);
    let columns = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typname::text, a.atttypmod, a.attnotnull, \
             pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, \
             (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = a.atttypid), \
             t.typtype = 'd', format_type(t.typbasetype, t.typtypmod), b.typname::text, t.typtypmod, \
             (SELECT array_agg(pg_get_constraintdef(c.oid) ORDER BY c.conname) FROM pg_constraint c WHERE c.contypid = t.oid), \
             col_description(a.attrelid, a.attnum), a.attgenerated::text \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type b ON b.oid = t.typbasetype \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&oid],
        )
        .await?;
    let columns: Vec<ColumnDef> = columns
        .iter()
        .map(|row| {
            let declared: String = row.get(1);
            let mut default: Option<String> = row.get(5);
            let identity: String = row.get(6);
            // A generated column's expression is kept where its default would be.
            let generated = match row.get::<_, String>(14).as_str() {
                "s" => default.take().map(|expression| Generated { expression, stored: true }),
                _ => None,
            };
            let serial = default.as_deref().is_some_and(|d| d.starts_with("nextval("));
            let labels: Option<Vec<String>> = row.get(7);
            let column_type = match labels {
                Some(labels) => ColumnType::Enum { name: row.get(2), labels },
                None if row.get::<_, bool>(8) => {
                    let declared: String = row.get(9);
                    ColumnType::Domain {
                        name: row.get(2),
                        base: Box::new(column_type(&row.get::<_, String>(10), row.get(11), &declared)),
                        declared,
                        checks: row.get::<_, Option<Vec<String>>>(12).unwrap_or_default(),
                    }
                }
                None => column_type(&row.get::<_, String>(2), row.get(3), &declared),
            };
            ColumnDef {
                name: row.get(0),
                column_type,
                declared,
                nullable: !row.get::<_, bool>(4),
                default: if serial { None } else { default.map(parse_default) },
                identity: serial || !identity.is_empty(),
                comment: row.get(13),
                updated_now: false,
                generated,
            }
        })
        .collect();
    let indexes = client
        .query(
            "SELECT ic.relname::text, i.indisprimary, i.indisunique, \
             array_agg(a.attname::text ORDER BY k.n) FILTER (WHERE a.attname IS NOT NULL), count(*) FILTER (WHERE k.attnum = 0), \
             i.indpred IS NOT NULL, pg_get_indexdef(i.indexrelid), am.amname::text, current_schema()::text \
             FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam \
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
             LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = to_regclass($1) \
             GROUP BY ic.relname, i.indisprimary, i.indisunique, i.indpred IS NOT NULL, i.indexrelid, am.amname \
             ORDER BY 1",
            &[&oid],
        )
        .await?;
    let mut primary_key = Vec::new();
    let mut secondary = Vec::new();
    for row in indexes {
        let (expressions, partial, method): (i64, bool, String) = (row.get(4), row.get(5), row.get(7));
        let columns: Option<Vec<String>> = row.get(3);
        let columns = columns.unwrap_or_default();
        if row.get::<_, bool>(1) {
            primary_key = columns;
            continue;
        }
        // The engine's own statement, without the schema, so that it makes the index wherever the
        // table is.
        let native = (expressions > 0 || partial || method != "btree").then(|| {
            let (definition, schema): (String, String) = (row.get(6), row.get(8));
            definition.replacen(&format!(" ON {}.", super::ddl::quote(&schema)), " ON ", 1).replacen(
                &format!(" ON {schema}."),
                " ON ",
                1,
            )
        });
        secondary.push(IndexDef { name: row.get(0), columns, unique: row.get(2), native, ..Default::default() });
    }
    let keys = client
        .query(
            "SELECT c.conname::text, f.relname::text, \
             (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n) \
              JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum), \
             (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n) \
              JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum), \
             c.confdeltype::text, c.confupdtype::text \
             FROM pg_constraint c JOIN pg_class f ON f.oid = c.confrelid \
             WHERE c.conrelid = to_regclass($1) AND c.contype = 'f' ORDER BY 1",
            &[&oid],
        )
        .await?;
    let foreign_keys = keys
        .iter()
        .map(|row| ForeignKeyDef {
            name: row.get(0),
            referenced_table: row.get(1),
            columns: row.get(2),
            referenced_columns: row.get(3),
            on_delete: action(row.get(4)),
            on_update: action(row.get(5)),
        })
        .collect();
    // A check inherited from a parent table comes with the INHERITS clause.
    let checks = client
        .query(
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conrelid = to_regclass($1) AND contype = 'c' AND conislocal ORDER BY 1",
            &[&oid],
        )
        .await?
        .iter()
        .map(|row| CheckDef { name: row.get(0), clause: row.get(1) })
        .collect();
    let inherits = client
        .query(
            "SELECT p.relname::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent \
             WHERE i.inhrelid = to_regclass($1) ORDER BY i.inhseqno",
            &[&oid],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let triggers: Vec<RoutineDef> = client
        .query(
            "SELECT 'trigger', tgname::text, pg_get_triggerdef(oid) FROM pg_trigger \
             WHERE tgrelid = to_regclass($1) AND NOT tgisinternal ORDER BY 1",
            &[&oid],
        )
        .await?
        .iter()
        .map(|row| RoutineDef { kind: row.get(0), name: row.get(1), create: row.get(2) })
        .collect();
    let partitioning = partitioning(client, &oid).await?;
    let comment: Option<String> =
        client.query_one("SELECT obj_description(to_regclass($1), 'pg_class')", &[&oid]).await?.get(0);
    let columns = columns.into_iter().map(ColumnDef::portable).collect();
    Ok(TableDef {
        comment,
        name,
        columns,
        primary_key,
        indexes: secondary,
        foreign_keys,
        unsupported: Vec::new(),
        checks,
        inherits,
        partitioning,
        later_keys: Vec::new(),
        triggers,
    })
}

/// The partition key and partitions of a partitioned table (`oid` its quoted name), each
/// partition's own when it is partitioned in turn; None for a plain table.
async fn partitioning(client: &Client, oid: &str) -> Result<Option<Partitioning>, Error> {
    let mut pending = vec![oid.to_string()];
    let mut found: Vec<(String, Option<Partitioning>)> = Vec::new();
    // Breadth first, then assembled bottom up: no recursion through async calls.
    let mut at = 0;
    while at < pending.len() {
        let key: Option<String> = client
            .query_one(
                "SELECT CASE WHEN relkind = 'p' THEN pg_get_partkeydef(oid) END FROM pg_class WHERE oid = to_regclass($1)",
                &[&pending[at]],
            )
            .await?
            .get(0);
        let partitioning = match key {
            None => None,
            Some(key) => {
                let rows = client
                    .query(
                        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
                         JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1) ORDER BY 1",
                        &[&pending[at]],
                    )
                    .await?;
                let mut partitions = Vec::new();
                for row in rows {
                    let name: String = row.get(0);
                    pending.push(super::ddl::quote(&name));
                    partitions.push(Partition { name, bound: row.get(1), partitioning: None });
                }
                Some(Partitioning { key, partitions })
            }
        };
        found.push((pending[at].clone(), partitioning));
        at += 1;
    }
    while found.len() > 1 {
        let Some((name, partitioning)) = found.pop() else { break };
        let parent = found
            .iter_mut()
            .rev()
            .filter_map(|(_, p)| p.as_mut())
            .find_map(|p| p.partitions.iter_mut().find(|partition| super::ddl::quote(&partition.name) == name));
        if let Some(partition) = parent {
            partition.partitioning = partitioning;
        }
    }
    Ok(found.pop().and_then(|(_, partitioning)| partitioning))
}

/// `pg_constraint`'s action letters.
fn action(letter: String) -> Option<String> {
    let name = match letter.as_str() {
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        "r" => "RESTRICT",
        _ => return None,
    };
    Some(name.to_string())
}

/// The portable type of a column, from its type's name and modifier.
fn column_type(type_name: &str, modifier: i32, declared: &str) -> ColumnType {
    match type_name {
        "bool" => ColumnType::Boolean,
        "int2" => ColumnType::SmallInt,
        "int4" => ColumnType::Integer,
        "int8" => ColumnType::BigInt,
        "float4" => ColumnType::Real,
        "float8" => ColumnType::Double,
        "numeric" if modifier >= 4 => {
            let packed = modifier - 4;
            ColumnType::Decimal(Some((((packed >> 16) & 0xffff) as u8, (packed & 0xffff) as i16 as i8)))
        }
        "numeric" => ColumnType::Decimal(None),
        "varchar" if modifier >= 4 => ColumnType::Varchar((modifier - 4) as u32),
        "varchar" | "text" => ColumnType::Text,
        "bpchar" if modifier >= 4 => ColumnType::Char((modifier - 4) as u32),
        "bytea" => ColumnType::Binary,
        "date" => ColumnType::Date,
        "time" => ColumnType::Time,
        "timestamp" => ColumnType::Timestamp,
        "timestamptz" => ColumnType::TimestampTz,
        "json" | "jsonb" => ColumnType::Json,
        "uuid" => ColumnType::Uuid,
        _ => ColumnType::Other(declared.to_string()),
    }
}

/// A default as PostgreSQL prints it: `CURRENT_TIMESTAMP` and `now()` are portable, a plain
/// literal (`0`, `'x'::text`) too, anything else stays PostgreSQL's expression.
fn parse_default(text: String) -> ColumnDefault {
    let lower = text.to_ascii_lowercase();
    if lower == "current_timestamp" || lower == "now()" || lower == "localtimestamp" {
        return ColumnDefault::CurrentTimestamp;
    }
    let bare = match text.split_once("::") {
        Some((value, _)) if value.starts_with('\'') && value.ends_with('\'') => value.to_string(),
        _ => text.clone(),
    };
    let boolean = matches!(lower.as_str(), "true" | "false");
    if boolean || bare.parse::<f64>().is_ok() || (bare.starts_with('\'') && bare.ends_with('\'')) {
        ColumnDefault::Literal(bare)
    } else {
        ColumnDefault::Expression(text)
    }
}
