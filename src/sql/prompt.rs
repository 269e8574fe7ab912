//! The interactive prompt of `ferry sql`: statements end with `;`, `\d` lists every
//! connection's tables, `\d TABLE` describes one, `\q` quits. An error is printed and the
//! prompt goes on. The loop reads from any [`LineSource`], so tests can script it.

use std::io::Write;

use super::{Format, SqlSession};
use crate::error::{FerryError, Result};

/// Where the prompt's lines come from: a terminal with line editing, or a script.
pub trait LineSource {
    /// The next line, or `None` at the end of input (Ctrl-D).
    fn read_line(&mut self, prompt: &str) -> Option<String>;
    fn remember(&mut self, _entry: &str) {}
}

/// Lines given in advance (tests, piped input).
impl<I: Iterator<Item = String>> LineSource for I {
    fn read_line(&mut self, _prompt: &str) -> Option<String> {
        self.next()
    }
}

/// A terminal: rustyline's line editing, with history in `~/.ferry_history`.
pub struct Terminal {
    editor: rustyline::DefaultEditor,
    history: Option<std::path::PathBuf>,
}

impl Terminal {
    pub fn new() -> Result<Self> {
        let mut editor = rustyline::DefaultEditor::new()
            .map_err(|e| FerryError::Execution(format!("cannot open the terminal: {e}")))?;
        let history = std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".ferry_history"));
        if let Some(path) = &history {
            let _ = editor.load_history(path);
        }
        Ok(Terminal { editor, history })
    }
}

impl LineSource for Terminal {
    fn read_line(&mut self, prompt: &str) -> Option<String> {
        loop {
            match self.editor.readline(prompt) {
                Ok(line) => return Some(line),
                // Ctrl-C abandons the line being typed, like psql; Ctrl-D ends the session.
                Err(rustyline::error::ReadlineError::Interrupted) => continue,
                Err(_) => return None,
            }
        }
    }

    fn remember(&mut self, entry: &str) {
        let _ = self.editor.add_history_entry(entry);
        if let Some(path) = &self.history {
            let _ = self.editor.save_history(path);
        }
    }
}

/// Runs the prompt until `\q` or the end of input.
pub async fn prompt_loop(
    session: &mut SqlSession,
    input: &mut dyn LineSource,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    let _ = writeln!(out, "ferry sql: end statements with `;`. \\d lists tables, \\d TABLE describes one, \\q quits.");
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() { "ferry> " } else { "  ...> " };
        let Some(line) = tokio::task::block_in_place(|| input.read_line(prompt)) else { break };
        let trimmed = line.trim();
        if pending.is_empty() && trimmed.starts_with('\\') {
            input.remember(trimmed);
            match command(session, trimmed, out).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(error) => {
                    let _ = writeln!(out, "error: {error}");
                }
            }
            continue;
        }
        pending.push_str(&line);
        pending.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let statement = std::mem::take(&mut pending);
        input.remember(statement.trim());
        let sql = statement.trim().trim_end_matches(';');
        match session.run(sql, Format::Table, out).await {
            Ok(summary) => {
                let _ = writeln!(out, "{}", summary.line());
            }
            Err(error) => {
                let _ = writeln!(out, "error: {error}");
            }
        }
    }
    Ok(())
}

/// A backslash command; returns true to quit.
async fn command(session: &mut SqlSession, command: &str, out: &mut (dyn Write + Send)) -> Result<bool> {
    let mut words = command.split_whitespace();
    match (words.next(), words.next()) {
        (Some("\\q"), _) => Ok(true),
        (Some("\\d"), None) => {
            let names: Vec<String> = session.connections().map(|c| c.name.clone()).collect();
            for name in names {
                match session.open(&name).await {
                    Ok(provider) => {
                        let mut tables = provider.table_names();
                        tables.sort();
                        for table in tables {
                            let _ = writeln!(out, "{name}.{table}");
                        }
                    }
                    Err(error) => {
                        let _ = writeln!(out, "{name}: unavailable: {error}");
                    }
                }
            }
            Ok(false)
        }
        (Some("\\d"), Some(table)) => {
            let (connection, name) =
                table.split_once('.').ok_or_else(|| FerryError::Job(format!("write `\\d connection.{table}`")))?;
            let provider = session.open(connection).await?;
            let found = provider.table(name).await.map_err(FerryError::from)?;
            let table_provider = found.ok_or_else(|| {
                let close = crate::transform::close_matches(name, &provider.table_names());
                match close.is_empty() {
                    true => FerryError::Job(format!("no table `{table}`; `\\d` lists the tables")),
                    false => FerryError::Job(format!(
                        "no table `{table}`; did you mean `{connection}.{}`?",
                        close.join("` or `")
                    )),
                }
            })?;
            for field in table_provider.schema().fields() {
                let nullable = if field.is_nullable() { "" } else { " NOT NULL" };
                let _ = writeln!(out, "{:<32} {}{nullable}", field.name(), field.data_type());
            }
            Ok(false)
        }
        _ => {
            let _ = writeln!(out, "unknown command `{command}`: \\d, \\d TABLE, \\q");
            Ok(false)
        }
    }
}
