//! Query text as the job file's checks and query files hold it, parsed with DataFusion's
//! parser so that a syntax error names its line and column before anything runs.

use datafusion::sql::parser::{DFParser, Statement};

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
