//! The plain views over a table that a swap drops with the old table and makes again over the
//! new one, in the swap's transaction: each view's definition, options, owner, grants and
//! comment, views over those views included. A materialized view, or a view something else
//! depends on (a trigger or rule on it, a function using its row type), keeps the table from
//! being swapped.

use tokio_postgres::{Client, Error};

/// What the swap runs for the views: one `DROP VIEW` of them all, and what makes them again.
#[derive(Default)]
pub struct Views {
    pub oids: Vec<i64>,
    pub drop: Option<String>,
    pub create: Vec<String>,
}

/// The views over the table `oid`, or why they cannot be made again.
pub async fn views_over(client: &Client, oid: i64) -> Result<Result<Views, String>, Error> {
    let rows = client
        .query(
            "WITH RECURSIVE over(oid, level) AS ( \
               SELECT r.ev_class, 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid \
               WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass \
                 AND d.refobjid = $1::int8::oid AND r.ev_class <> $1::int8::oid \
               UNION \
               SELECT r.ev_class, o.level + 1 FROM over o JOIN pg_depend d ON d.refobjid = o.oid \
                 AND d.refclassid = 'pg_class'::regclass AND d.classid = 'pg_rewrite'::regclass \
               JOIN pg_rewrite r ON r.oid = d.objid WHERE r.ev_class <> o.oid AND o.level < 50) \
             SELECT c.oid::int8, max(o.level), c.relkind::text, \
                    quote_ident(n.nspname) || '.' || quote_ident(c.relname), pg_get_viewdef(c.oid), \
                    array_to_string(c.reloptions, ', '), quote_ident(pg_get_userbyid(c.relowner)), \
                    quote_literal(obj_description(c.oid, 'pg_class')), \
                    EXISTS (SELECT 1 FROM pg_description x WHERE x.objoid = c.oid AND x.objsubid > 0), \
                    EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL), \
                    pg_has_role(c.relowner, 'MEMBER') \
             FROM over o JOIN pg_class c ON c.oid = o.oid JOIN pg_namespace n ON n.oid = c.relnamespace \
             GROUP BY c.oid, n.nspname ORDER BY 2, 4",
            &[&oid],
        )
        .await?;
    let mut views = Views::default();
    let mut names = Vec::new();
    for row in &rows {
        let (view, name): (i64, String) = (row.get(0), row.get(3));
        if row.get::<_, String>(2) != "v" {
            return Ok(Err(format!("the materialized view {name} depends on it")));
        }
        if row.get(8) || row.get(9) {
            return Ok(Err(format!("the view {name} depends on it, with column comments or privileges")));
        }
        if !row.get::<_, bool>(10) {
            return Ok(Err(format!("the view {name} depends on it, and ferry's role is not a member of its owner")));
        }
        views.oids.push(view);
        names.push(name);
    }
    for (row, name) in rows.iter().zip(&names) {
        let options = row.get::<_, Option<String>>(5).map(|o| format!(" WITH ({o})")).unwrap_or_default();
        let definition: String = row.get(4);
        let definition = definition.trim_end().trim_end_matches(';');
        views.create.push(format!("CREATE VIEW {name}{options} AS {definition}"));
        views.create.push(format!("ALTER VIEW {name} OWNER TO {}", row.get::<_, String>(6)));
        if let Some(comment) = row.get::<_, Option<String>>(7) {
            views.create.push(format!("COMMENT ON VIEW {name} IS {comment}"));
        }
        views.create.extend(grants(client, row.get(0), name).await?);
    }
    if !names.is_empty() {
        views.drop = Some(format!("DROP VIEW {}", names.join(", ")));
    }
    Ok(Ok(views))
}

/// The `GRANT`s that give the relation `on` what relation `oid` grants to others than its owner.
pub async fn grants(client: &Client, oid: i64, on: &str) -> Result<Vec<String>, Error> {
    let rows = client
        .query(
            "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
             ELSE quote_ident(pg_get_userbyid(a.grantee)) END, a.is_grantable \
             FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = $1::int8::oid AND a.grantee <> c.relowner",
            &[&oid],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|grant| {
            let option = if grant.get(2) { " WITH GRANT OPTION" } else { "" };
            format!("GRANT {} ON {on} TO {}{option}", grant.get::<_, String>(0), grant.get::<_, String>(1))
        })
        .collect())
}
