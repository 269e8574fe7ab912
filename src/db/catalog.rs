//! A database's schema as ferry reads it from the engine's catalog, in terms every engine
//! shares: tables, their columns, primary keys, secondary indexes and foreign keys. Each engine
//! reads it (`Backend::catalog`) and writes it back as DDL (`Backend::create_table_sql`).

/// The tables of one database (its default schema), in name order, and its views.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    pub tables: Vec<TableDef>,
    /// In an order where a view comes after the views it reads (as far as the engine says).
    pub views: Vec<ViewDef>,
    /// The extensions installed in the database (PostgreSQL's `citext`, `hstore`...), whose
    /// types and operators its tables may use.
    pub extensions: Vec<String>,
    /// Its functions, procedures and aggregates (not an extension's), functions first.
    pub routines: Vec<RoutineDef>,
    /// The schema these objects are in (PostgreSQL's `current_schema()`), where the engine has
    /// schemas: its routines' and triggers' SQL names it.
    pub schema: Option<String>,
}

/// A view: its name and the statement that creates it, in its engine's SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewDef {
    pub name: String,
    pub create: String,
}

/// A function, procedure, aggregate or trigger: its name and the statement that creates it, in
/// its engine's SQL, copied only within that engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutineDef {
    /// `function`, `procedure`, `aggregate` or `trigger`.
    pub kind: String,
    pub name: String,
    pub create: String,
}

/// A schema object ferry read but has no portable form for (an expression or partial index, a
/// CHECK constraint): reported, not copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// `index <name>`, `check <name>`.
    pub object: String,
    /// Why, with the engine's own definition.
    pub reason: String,
}

impl Catalog {
    /// The table named `name` (exactly, or else ignoring case).
    pub fn table(&self, name: &str) -> Option<&TableDef> {
        self.tables
            .iter()
            .find(|t| t.name == name)
            .or_else(|| self.tables.iter().find(|t| t.name.eq_ignore_ascii_case(name)))
    }
}

/// One table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableDef {
    pub name: String,
    /// In the table's own order.
    pub columns: Vec<ColumnDef>,
    /// Empty when the table has none.
    pub primary_key: Vec<String>,
    /// Secondary indexes (not the primary key's), in name order.
    pub indexes: Vec<IndexDef>,
    /// In name order.
    pub foreign_keys: Vec<ForeignKeyDef>,
    /// Foreign keys a copy adds after the rows, not made with the table: their columns are
    /// keyed all the same where an engine types keyed columns otherwise (MySQL's TEXT).
    pub later_keys: Vec<ForeignKeyDef>,
    /// Its triggers, where the engine's catalog gives their SQL (else they are `unsupported`).
    pub triggers: Vec<RoutineDef>,
    pub unsupported: Vec<Unsupported>,
    pub checks: Vec<CheckDef>,
    /// The tables it inherits from (PostgreSQL's table inheritance); its rows are also theirs.
    pub inherits: Vec<String>,
    pub comment: Option<String>,
    /// How the engine splits the table's rows into partitions (PostgreSQL's declarative
    /// partitioning), in the engine's own SQL; None for a plain table.
    pub partitioning: Option<Partitioning>,
}

/// A partitioned table's key and partitions, in its engine's SQL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Partitioning {
    /// `RANGE (sold)`, `LIST (region)`, `HASH (id)`.
    pub key: String,
    pub partitions: Vec<Partition>,
}

/// One partition: its name, its bound (`FOR VALUES FROM (...) TO (...)`, `DEFAULT`) and, when it
/// is partitioned in turn, its own partitions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    pub bound: String,
    pub partitioning: Option<Partitioning>,
}

/// One column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    pub column_type: ColumnType,
    /// The type as the engine's catalog spells it (`character varying(100)`, `int(11)`, ...).
    pub declared: String,
    pub nullable: bool,
    pub default: Option<ColumnDefault>,
    /// Filled by the database when not given (SERIAL, IDENTITY, AUTO_INCREMENT, SQLite's rowid).
    pub identity: bool,
    pub comment: Option<String>,
    /// Set to the current time whenever its row is updated (MySQL's `ON UPDATE CURRENT_TIMESTAMP`).
    pub updated_now: bool,
    /// Computed by the engine from the row's other columns (`GENERATED ALWAYS AS (...)`).
    pub generated: Option<Generated>,
}

/// A generated column's expression, in its engine's SQL, and whether its values are stored
/// (else computed when read: MySQL's VIRTUAL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    pub expression: String,
    pub stored: bool,
}

impl ColumnDef {
    /// A column of `column_type`, nullable, without default, declared as the portable name.
    pub fn new(name: &str, column_type: ColumnType) -> Self {
        ColumnDef {
            name: name.to_string(),
            declared: column_type.to_string(),
            column_type,
            nullable: true,
            default: None,
            identity: false,
            comment: None,
            updated_now: false,
            generated: None,
        }
    }

    pub fn not_null(mut self) -> Self {
        self.nullable = false;
        self
    }

    pub fn identity(mut self) -> Self {
        self.identity = true;
        self.nullable = false;
        self
    }

    pub fn default(mut self, default: ColumnDefault) -> Self {
        self.default = Some(default);
        self
    }

    /// The default in portable words: a boolean's `1`/`0` (MySQL, SQLite) become TRUE/FALSE.
    pub fn portable(mut self) -> Self {
        if let (ColumnType::Boolean, Some(ColumnDefault::Literal(value))) = (&self.column_type, &self.default) {
            let bare = value.trim_matches('\'').to_ascii_lowercase();
            let truth = match bare.as_str() {
                "1" | "true" | "t" => Some("TRUE"),
                "0" | "false" | "f" => Some("FALSE"),
                _ => None,
            };
            if let Some(truth) = truth {
                self.default = Some(ColumnDefault::Literal(truth.into()));
            }
        }
        self
    }
}

/// The portable kinds of column type: what every engine's DDL can say, one way or another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnType {
    Boolean,
    SmallInt,
    Integer,
    BigInt,
    Real,
    Double,
    /// `DECIMAL(precision, scale)`; None: unconstrained.
    Decimal(Option<(u8, i8)>),
    /// Text of at most this many characters.
    Varchar(u32),
    /// Text of exactly this many characters (PostgreSQL pads it, MySQL strips the padding).
    Char(u32),
    Text,
    Binary,
    Date,
    Time,
    /// A date and time of day, without zone.
    Timestamp,
    /// An instant (PostgreSQL's `timestamptz`, MySQL's `TIMESTAMP`).
    TimestampTz,
    Json,
    Uuid,
    /// One of a list of labels: a PostgreSQL enum type (`name` is the type's), MySQL's ENUM
    /// (`name` is `<table>_<column>`).
    Enum {
        name: String,
        labels: Vec<String>,
    },
    /// Any set of a list of labels (MySQL's SET), read as the labels joined by commas.
    Set {
        labels: Vec<String>,
    },
    /// A PostgreSQL domain: a base type (as PostgreSQL spells it, and portable) and its checks.
    Domain {
        name: String,
        base: Box<ColumnType>,
        declared: String,
        checks: Vec<String>,
    },
    /// The engine's own spelling of a type that has a portable counterpart (MySQL's `year`,
    /// `mediumint unsigned`, `datetime(3)`): kept by the same engine, the portable type elsewhere.
    Native {
        declared: String,
        portable: Box<ColumnType>,
    },
    /// A type with no portable counterpart, as the engine spells it.
    Other(String),
}

impl ColumnType {
    /// The portable type behind an engine's own spelling.
    pub fn portable(&self) -> &ColumnType {
        match self {
            ColumnType::Native { portable, .. } => portable,
            other => other,
        }
    }

    /// Holds numbers: integers, floating point or decimals (portably).
    pub fn is_number(&self) -> bool {
        matches!(
            self.portable(),
            ColumnType::SmallInt
                | ColumnType::Integer
                | ColumnType::BigInt
                | ColumnType::Real
                | ColumnType::Double
                | ColumnType::Decimal(_)
        )
    }
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColumnType::Boolean => f.write_str("boolean"),
            ColumnType::SmallInt => f.write_str("smallint"),
            ColumnType::Integer => f.write_str("integer"),
            ColumnType::BigInt => f.write_str("bigint"),
            ColumnType::Real => f.write_str("real"),
            ColumnType::Double => f.write_str("double"),
            ColumnType::Decimal(Some((precision, scale))) => write!(f, "decimal({precision}, {scale})"),
            ColumnType::Decimal(None) => f.write_str("decimal"),
            ColumnType::Varchar(length) => write!(f, "varchar({length})"),
            ColumnType::Char(length) => write!(f, "char({length})"),
            ColumnType::Text => f.write_str("text"),
            ColumnType::Binary => f.write_str("binary"),
            ColumnType::Date => f.write_str("date"),
            ColumnType::Time => f.write_str("time"),
            ColumnType::Timestamp => f.write_str("timestamp"),
            ColumnType::TimestampTz => f.write_str("timestamptz"),
            ColumnType::Json => f.write_str("json"),
            ColumnType::Uuid => f.write_str("uuid"),
            ColumnType::Enum { name, .. } => write!(f, "enum {name}"),
            ColumnType::Set { labels } => write!(f, "set({})", string_literals(labels)),
            ColumnType::Domain { name, .. } => write!(f, "domain {name}"),
            ColumnType::Native { declared, .. } | ColumnType::Other(declared) => f.write_str(declared),
        }
    }
}

/// A column's default, where it is one every engine can state; others keep the engine's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnDefault {
    CurrentTimestamp,
    /// A literal, as SQL (`0`, `'none'`).
    Literal(String),
    /// An expression in the engine's own SQL.
    Expression(String),
}

/// A secondary index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexDef {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    /// MySQL's prefix lengths (`KEY (title(10))`), one per column (None: the whole column);
    /// empty when no column has one. Other engines index the whole columns.
    pub prefixes: Vec<Option<u32>>,
    /// The engine's own `CREATE INDEX` for an index with no portable form (an expression, a
    /// predicate, another access method such as GiST or FULLTEXT): made again only by the same
    /// engine, names kept.
    pub native: Option<String>,
}

/// A CHECK constraint, in its engine's SQL (`CHECK (...)`): made again only by the same engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckDef {
    pub name: String,
    pub clause: String,
}

/// A foreign key: `columns` reference `referenced_columns` of `referenced_table`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForeignKeyDef {
    pub name: String,
    pub columns: Vec<String>,
    pub referenced_table: String,
    pub referenced_columns: Vec<String>,
    /// `CASCADE`, `SET NULL`, `SET DEFAULT` or `RESTRICT`; None: no action (the default).
    pub on_delete: Option<String>,
    pub on_update: Option<String>,
}

/// A referential action as every engine spells it, or None for "no action".
pub fn referential_action(text: &str) -> Option<String> {
    let upper = text.trim().to_ascii_uppercase();
    match upper.as_str() {
        "CASCADE" | "SET NULL" | "SET DEFAULT" | "RESTRICT" => Some(upper),
        _ => None,
    }
}

/// `'a', 'b'`: SQL string literals, quotes doubled.
pub fn string_literals(values: &[String]) -> String {
    values.iter().map(|v| format!("'{}'", v.replace('\'', "''"))).collect::<Vec<_>>().join(", ")
}

/// How an engine quotes names, for the DDL every engine writes alike.
pub struct Quoting {
    /// One identifier.
    pub name: fn(&str) -> String,
    /// A table, possibly `schema.table`.
    pub table: fn(&str) -> String,
}

impl Quoting {
    fn list(&self, names: &[String]) -> String {
        names.iter().map(|n| (self.name)(n)).collect::<Vec<_>>().join(", ")
    }

    /// `CREATE TABLE name (columns, PRIMARY KEY (...), CONSTRAINT ... FOREIGN KEY ...)suffix`;
    /// `columns` are the engine's column definitions, `primary_key` whether to add the key.
    pub fn create_table(&self, table: &TableDef, columns: Vec<String>, primary_key: bool, suffix: &str) -> String {
        let mut parts = columns;
        if primary_key && !table.primary_key.is_empty() {
            parts.push(format!("PRIMARY KEY ({})", self.list(&table.primary_key)));
        }
        parts.extend(table.foreign_keys.iter().map(|key| self.foreign_key(key)));
        format!("CREATE TABLE {} ({}){suffix}", (self.table)(&table.name), parts.join(", "))
    }

    /// `ALTER TABLE table ADD CONSTRAINT name FOREIGN KEY (...) REFERENCES ...`.
    pub fn add_foreign_key(&self, table: &str, key: &ForeignKeyDef) -> String {
        format!("ALTER TABLE {} ADD {}", (self.table)(table), self.foreign_key(key))
    }

    fn foreign_key(&self, key: &ForeignKeyDef) -> String {
        let mut sql = format!(
            "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
            (self.name)(&key.name),
            self.list(&key.columns),
            (self.table)(&key.referenced_table),
            self.list(&key.referenced_columns)
        );
        if let Some(action) = &key.on_delete {
            sql.push_str(&format!(" ON DELETE {action}"));
        }
        if let Some(action) = &key.on_update {
            sql.push_str(&format!(" ON UPDATE {action}"));
        }
        sql
    }

    /// `ALTER TABLE table ADD CONSTRAINT name CHECK (...)`.
    pub fn add_check(&self, table: &str, check: &CheckDef) -> String {
        format!("ALTER TABLE {} ADD CONSTRAINT {} {}", (self.table)(table), (self.name)(&check.name), check.clause)
    }

    /// `CREATE [UNIQUE] INDEX name ON table (columns)`, or the engine's own statement.
    pub fn create_index(&self, table: &str, index: &IndexDef) -> String {
        if let Some(native) = &index.native {
            return native.clone();
        }
        let unique = if index.unique { "UNIQUE " } else { "" };
        let (name, on) = ((self.name)(&index.name), (self.table)(table));
        format!("CREATE {unique}INDEX {name} ON {on} ({})", self.list(&index.columns))
    }
}
