//! Replace without blocking readers: the new rows go into a shadow table, made like the target
//! in the load's transaction, and the shadow takes the target's place at the very end.
//!
//! Emptying the table in place (`TRUNCATE`, dropped indexes) takes an ACCESS EXCLUSIVE lock
//! that every `SELECT` waits behind for the whole load. Here readers keep reading the old table
//! while the shadow fills and gets its indexes; the lock is taken only for the swap (drop the old
//! table, rename the shadow, move what points at it), which lasts milliseconds and waits at most
//! `lock_timeout` (10 s unless the session sets its own) for readers already inside. Everything
//! is in the load's transaction: a failure or a kill leaves the old table as it was and no shadow.
//!
//! Plain views over the table are dropped with the old table and made again over the new one
//! (`views`). A table whose swap would lose something (a materialized view, a rule, trigger or
//! policy on it, a table inheriting from it, a function using its row type...) is loaded in
//! place instead, and the report says why; see [`plan`].

use tokio_postgres::{Client, Error};

use super::connect::pg_message;
use super::views::{grants, views_over, Views};

/// How a replace of an existing table publishes.
pub enum Plan {
    Swap(Box<Swap>),
    /// In place, because of what the text says.
    InPlace(String),
}

/// A planned swap: what makes the shadow, fills in what the rows do not bring, and swaps it in.
pub struct Swap {
    /// The target, `"schema"."table"`, its schema and its bare quoted name.
    table: String,
    schema: String,
    name: String,
    /// The shadow as `sink` names tables (`schema.name`, unquoted), and quoted.
    pub shadow_name: String,
    pub shadow: String,
    /// Statements that make the shadow before the rows come.
    create: Vec<String>,
    /// Statements that build the shadow's indexes, keys and foreign keys after the rows, with
    /// the temporary name each gives an index and the name it stands for (for messages).
    build: Vec<(String, Option<(String, String)>)>,
    /// Under the swap's lock, after the old table is gone: indexes and keys get their names back.
    rename: Vec<String>,
    /// Serial columns whose sequence the table owns, and identity columns: (column, sequence).
    sequences: Vec<(String, String, bool)>,
    /// Foreign keys pointing at the table (its own included): (table, name, definition, valid).
    referencing: Vec<Reference>,
    /// The views over the table, dropped with it and made again over the new one.
    views: Views,
    owner: Option<String>,
}

struct Reference {
    table: String,
    name: String,
    definition: String,
    /// Whether the key was validated: then it is checked before the swap and validated after.
    valid: bool,
    /// Counts the rows of `table` whose key the new rows lack (given the shadow's name).
    orphans: String,
    /// Whether it is the table's own key to itself, which goes away with the old table.
    own: bool,
}

/// Decides how to replace `table` (`"schema"."table"`), reading the catalog in the load's
/// transaction.
pub async fn plan(client: &Client, table: &str) -> Result<Plan, Error> {
    let row = client
        .query_one(
            "SELECT c.oid::int8, quote_ident(n.nspname), quote_ident(c.relname), c.relkind::text, c.relispartition, \
             c.relpersistence::text, pg_has_role(c.relowner, 'MEMBER'), \
             CASE WHEN c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) \
                  THEN quote_ident(pg_get_userbyid(c.relowner)) END, \
             c.relrowsecurity, c.relreplident::text, array_to_string(c.reloptions, ', '), \
             (SELECT quote_ident(spcname) FROM pg_tablespace WHERE oid = c.reltablespace), \
             quote_literal(obj_description(c.oid, 'pg_class')), \
             EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid OR inhparent = c.oid), \
             EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = c.oid AND attacl IS NOT NULL), n.nspname \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
            &[&table],
        )
        .await?;
    let oid: i64 = row.get(0);
    let (schema, name): (String, String) = (row.get(1), row.get(2));
    let in_place = |why: &str| Ok(Plan::InPlace(why.to_string()));
    match row.get::<_, String>(3).as_str() {
        "r" => {}
        "p" => return in_place("it is a partitioned table"),
        _ => return in_place("it is not a plain table"),
    }
    if row.get(4) || row.get(13) {
        return in_place("it is a partition, inherits from a table or is inherited from");
    }
    if !row.get::<_, bool>(6) {
        return in_place("ferry's role is not a member of the role that owns it");
    }
    if row.get(8) {
        return in_place("it has row-level security");
    }
    if row.get::<_, String>(9) != "d" {
        return in_place("its replica identity is not the default");
    }
    if row.get(14) {
        return in_place("it has column privileges");
    }
    let views = match views_over(client, oid).await? {
        Ok(views) => views,
        Err(why) => return Ok(Plan::InPlace(why)),
    };
    for over in std::iter::once(oid).chain(views.oids.iter().copied()) {
        if let Some(dependent) = dependents(client, over, &views.oids).await?.into_iter().next() {
            let on = if over == oid { "it" } else { "a view over it" };
            return Ok(Plan::InPlace(format!("{dependent} depends on {on}")));
        }
    }
    let shadow_bare = format!("_ferry_shadow_{oid}");
    let shadow_name = format!("{}.{shadow_bare}", row.get::<_, String>(15));
    let shadow = format!("{schema}.{shadow_bare}");
    let unlogged = if row.get::<_, String>(5) == "u" { "UNLOGGED " } else { "" };
    let options = row.get::<_, Option<String>>(10).map(|o| format!(" WITH ({o})")).unwrap_or_default();
    let space = row.get::<_, Option<String>>(11).map(|s| format!(" TABLESPACE {s}")).unwrap_or_default();
    let mut create =
        vec![format!("CREATE {unlogged}TABLE {shadow} (LIKE {table} INCLUDING ALL EXCLUDING INDEXES){options}{space}")];
    if let Some(comment) = row.get::<_, Option<String>>(12) {
        create.push(format!("COMMENT ON TABLE {shadow} IS {comment}"));
    }
    create.extend(grants(client, oid, &shadow).await?);
    let mut swap = Swap {
        table: table.to_string(),
        schema,
        name,
        shadow_name,
        shadow,
        create,
        build: Vec::new(),
        rename: Vec::new(),
        sequences: Vec::new(),
        referencing: Vec::new(),
        views,
        owner: row.get(7),
    };
    if let Some(why) = swap.indexes(client, oid).await? {
        return Ok(Plan::InPlace(why));
    }
    if let Some(why) = swap.keys(client, oid).await? {
        return Ok(Plan::InPlace(why));
    }
    let sequences = client
        .query(
            "SELECT quote_ident(a.attname), a.attname::text, pg_get_serial_sequence($1, a.attname), a.attidentity <> '' \
             FROM pg_attribute a WHERE a.attrelid = $2::int8::oid AND a.attnum > 0 AND NOT a.attisdropped \
             AND pg_get_serial_sequence($1, a.attname) IS NOT NULL ORDER BY a.attnum",
            &[&table, &oid],
        )
        .await?;
    for sequence in &sequences {
        let (column, raw, owned): (String, String, String) = (sequence.get(0), sequence.get(1), sequence.get(2));
        if sequence.get(3) {
            swap.sequences.push((raw, owned, true));
        } else {
            swap.sequences.push((column, owned, false));
        }
    }
    Ok(Plan::Swap(Box::new(swap)))
}

/// What the catalog records as depending on the table (or view) or its row type, beyond what a
/// swap carries over (indexes, constraints, defaults, owned sequences, statistics, foreign keys,
/// the `views` it makes again).
async fn dependents(client: &Client, oid: i64, views: &[i64]) -> Result<Vec<String>, Error> {
    let rows = client
        .query(
            "SELECT DISTINCT replace(pg_describe_object(d.classid, d.objid, d.objsubid), 'rule _RETURN on ', '') \
             FROM pg_depend d WHERE ((d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::int8::oid) \
                OR (d.refclassid = 'pg_type'::regclass \
                    AND d.refobjid = (SELECT reltype FROM pg_class WHERE oid = $1::int8::oid))) \
             AND d.classid NOT IN ('pg_type'::regclass, 'pg_constraint'::regclass, 'pg_attrdef'::regclass, \
                                   'pg_statistic_ext'::regclass) \
             AND NOT (d.classid = 'pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_class x WHERE x.oid = d.objid \
                      AND (x.relkind IN ('i', 'S', 't')) AND d.deptype IN ('a', 'i'))) \
             AND NOT (d.classid = 'pg_trigger'::regclass \
                      AND EXISTS (SELECT 1 FROM pg_trigger t WHERE t.oid = d.objid AND t.tgisinternal)) \
             AND NOT (d.classid = 'pg_rewrite'::regclass AND EXISTS (SELECT 1 FROM pg_rewrite r \
                      WHERE r.oid = d.objid AND r.rulename = '_RETURN' AND r.ev_class = ANY($2::int8[]::oid[]))) \
             ORDER BY 1",
            &[&oid, &views],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

impl Swap {
    /// Plans the shadow's indexes (built after its rows under temporary names), or says why
    /// an index cannot be made again.
    async fn indexes(&mut self, client: &Client, oid: i64) -> Result<Option<String>, Error> {
        let indexes = client
            .query(
                "SELECT quote_ident(x.relname), quote_ident(k.conname), pg_get_constraintdef(k.oid), \
                 pg_get_indexdef(i.indexrelid), i.indisclustered OR NOT i.indisvalid OR x.reltablespace <> 0 \
                 OR EXISTS (SELECT 1 FROM pg_description d WHERE d.objoid = i.indexrelid OR d.objoid = k.oid) \
                 FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid \
                 LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid \
                 AND k.contype IN ('p', 'u', 'x') \
                 WHERE i.indrelid = $1::int8::oid ORDER BY k.oid IS NULL, i.indexrelid",
                &[&oid],
            )
            .await?;
        for (number, index) in indexes.iter().enumerate() {
            let name: String = index.get(0);
            if index.get(4) {
                return Ok(Some(format!(
                    "its index {name} is clustered, invalid, in its own tablespace or has a comment"
                )));
            }
            let temporary = format!("_ferry_{oid}_{number}");
            match (index.get::<_, Option<String>>(1), index.get::<_, Option<String>>(2)) {
                (Some(constraint), Some(definition)) => {
                    let build = format!("ALTER TABLE {} ADD CONSTRAINT {temporary} {definition}", self.shadow);
                    self.build.push((build, Some((temporary.clone(), constraint.clone()))));
                    self.rename
                        .push(format!("ALTER TABLE {} RENAME CONSTRAINT {temporary} TO {constraint}", self.table));
                }
                _ => {
                    let definition: String = index.get(3);
                    let Some(rest) = ["CREATE INDEX ", "CREATE UNIQUE INDEX "].iter().find_map(|start| {
                        definition.strip_prefix(&format!("{start}{name} ON {}.{} USING ", self.schema, self.name))
                    }) else {
                        return Ok(Some(format!("its index {name} could not be made again ({definition})")));
                    };
                    let unique = if definition.starts_with("CREATE UNIQUE") { "UNIQUE " } else { "" };
                    let build = format!("CREATE {unique}INDEX {temporary} ON {} USING {rest}", self.shadow);
                    self.build.push((build, Some((temporary.clone(), name.clone()))));
                    self.rename.push(format!("ALTER INDEX {}.{temporary} RENAME TO {name}", self.schema));
                }
            }
        }
        Ok(None)
    }

    /// Plans the foreign keys: the table's own (added to the shadow after its rows), and those
    /// pointing at it (moved to the shadow in the swap), or says why one cannot be moved.
    async fn keys(&mut self, client: &Client, oid: i64) -> Result<Option<String>, Error> {
        let keys = client
            .query(
                "SELECT quote_ident(n.nspname) || '.' || quote_ident(r.relname), quote_ident(k.conname), \
                 pg_get_constraintdef(k.oid), k.convalidated, k.confdeltype::text, k.conrelid = k.confrelid, \
                 k.confrelid = $1::int8::oid, \
                 ARRAY(SELECT quote_ident(a.attname) FROM unnest(k.conkey) WITH ORDINALITY u(n, o) \
                       JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.o), \
                 ARRAY(SELECT quote_ident(a.attname) FROM unnest(k.confkey) WITH ORDINALITY u(n, o) \
                       JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.o) \
                 FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace \
                 WHERE k.contype = 'f' AND (k.conrelid = $1::int8::oid OR k.confrelid = $1::int8::oid) ORDER BY k.oid",
                &[&oid],
            )
            .await?;
        for key in &keys {
            let (table, name, definition): (String, String, String) = (key.get(0), key.get(1), key.get(2));
            let (own, pointing_here) = (key.get::<_, bool>(5), key.get::<_, bool>(6));
            if !pointing_here {
                self.build.push((format!("ALTER TABLE {} ADD CONSTRAINT {name} {definition}", self.shadow), None));
                continue;
            }
            if !matches!(key.get::<_, String>(4).as_str(), "a" | "r") {
                return Ok(Some(format!(
                    "the foreign key {name} of {table} changes its rows when theirs are deleted (ON DELETE)"
                )));
            }
            let (columns, referenced): (Vec<String>, Vec<String>) = (key.get(7), key.get(8));
            let present: Vec<String> = columns.iter().map(|c| format!("r.{c} IS NOT NULL")).collect();
            let matched: Vec<String> = columns.iter().zip(&referenced).map(|(c, k)| format!("s.{k} = r.{c}")).collect();
            let from = if own { "{shadow}".to_string() } else { table.clone() };
            let orphans = format!(
                "SELECT count(*) FROM {from} r WHERE {} AND NOT EXISTS (SELECT 1 FROM {{shadow}} s WHERE {})",
                present.join(" AND "),
                matched.join(" AND ")
            );
            let valid = key.get(3);
            self.referencing.push(Reference { table, name, definition, valid, orphans, own });
        }
        Ok(None)
    }

    /// Makes the empty shadow.
    pub async fn create(&self, client: &Client) -> Result<(), Error> {
        client.batch_execute(&self.create.join("; ")).await
    }

    /// Builds the shadow's indexes and keys over its rows, and checks that the rows of the tables
    /// pointing at it still find their keys. The error names indexes and tables as the user does.
    pub async fn build(&self, client: &Client) -> Result<(), String> {
        for (statement, names) in &self.build {
            if let Err(error) = client.batch_execute(statement).await {
                let message = pg_message(&error).replace(&self.shadow_bare(), self.name.trim_matches('"'));
                return Err(match names {
                    Some((temporary, name)) => message.replace(temporary, name.trim_matches('"')),
                    None => message,
                });
            }
        }
        for reference in self.referencing.iter().filter(|r| r.valid) {
            let orphans: i64 = client
                .query_one(&reference.orphans.replace("{shadow}", &self.shadow), &[])
                .await
                .map_err(|e| pg_message(&e))?
                .get(0);
            if orphans > 0 {
                return Err(format!(
                    "{orphans} rows of {} refer through the foreign key {} to keys that the new rows lack; \
                     load the referenced rows too, or fix those rows first",
                    reference.table, reference.name
                ));
            }
        }
        Ok(())
    }

    /// The shadow's name without its schema.
    fn shadow_bare(&self) -> String {
        self.shadow_name.rsplit('.').next().unwrap_or(&self.shadow_name).to_string()
    }

    /// Puts the shadow in the table's place, under a lock held until the transaction commits.
    pub async fn swap(&self, client: &Client) -> Result<(), Error> {
        let timeout: String = client.query_one("SELECT current_setting('lock_timeout')", &[]).await?.get(0);
        if timeout == "0" {
            client.batch_execute("SET LOCAL lock_timeout = '10s'").await?;
        }
        let mut statements = vec![format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", self.table)];
        for (column, sequence, identity) in &self.sequences {
            if *identity {
                statements.push(format!(
                    "SELECT setval(pg_get_serial_sequence('{}', '{}'), last_value, is_called) FROM {sequence}",
                    self.shadow.replace('\'', "''"),
                    column.replace('\'', "''")
                ));
            } else {
                statements.push(format!("ALTER SEQUENCE {sequence} OWNED BY {}.{column}", self.shadow));
            }
        }
        for reference in self.referencing.iter().filter(|r| !r.own) {
            statements.push(format!("ALTER TABLE {} DROP CONSTRAINT {}", reference.table, reference.name));
        }
        statements.extend(self.views.drop.iter().cloned());
        statements.push(format!("DROP TABLE {}", self.table));
        statements.push(format!("ALTER TABLE {} RENAME TO {}", self.shadow, self.name));
        statements.extend(self.rename.iter().cloned());
        if let Some(owner) = &self.owner {
            statements.push(format!("ALTER TABLE {} OWNER TO {owner}", self.table));
        }
        statements.extend(self.views.create.iter().cloned());
        for reference in &self.referencing {
            let table = if reference.own { &self.table } else { &reference.table };
            let later = if reference.definition.ends_with("NOT VALID") { "" } else { " NOT VALID" };
            statements
                .push(format!("ALTER TABLE {table} ADD CONSTRAINT {} {}{later}", reference.name, reference.definition));
        }
        client.batch_execute(&statements.join("; ")).await?;
        // The identity sequences made with the shadow take the old ones' names.
        for (column, sequence, identity) in &self.sequences {
            if *identity {
                let bare = sequence.rsplit('.').next().unwrap_or(sequence);
                let current: String =
                    client.query_one("SELECT pg_get_serial_sequence($1, $2)", &[&self.table, column]).await?.get(0);
                client.batch_execute(&format!("ALTER SEQUENCE {current} RENAME TO {bare}")).await?;
            }
        }
        Ok(())
    }

    /// After the commit: validates the foreign keys moved to the new table (checked before the
    /// swap), which takes no lock that readers or writers wait for.
    pub async fn validate(&self, client: &Client) -> Result<(), Error> {
        for reference in self.referencing.iter().filter(|r| r.valid) {
            let table = if reference.own { &self.table } else { &reference.table };
            client.batch_execute(&format!("ALTER TABLE {table} VALIDATE CONSTRAINT {}", reference.name)).await?;
        }
        Ok(())
    }
}
