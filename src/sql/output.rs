//! A statement's result, written as a table, CSV, JSON or Parquet while it streams. The table
//! keeps at most [`TABLE_ROWS`] rows for display and counts the rest, so memory stays bounded.

use std::io::Write;

use arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;

use crate::error::{FerryError, Result};

/// Rows a table shows; the count covers all of them.
pub const TABLE_ROWS: usize = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table with the row count and time (default).
    Table,
    /// CSV with a header line.
    Csv,
    /// A JSON array of objects.
    Json,
    /// A Parquet file (zstd); needs `--out`.
    Parquet,
}

/// What a statement returned.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub rows: u64,
    /// Rows shown in a table (fewer than `rows` when the result is long).
    pub shown: usize,
    pub seconds: f64,
}

fn io_error(error: impl std::fmt::Display) -> FerryError {
    FerryError::Execution(format!("writing the result: {error}"))
}

pub async fn write_results(
    mut stream: SendableRecordBatchStream,
    format: Format,
    out: &mut (dyn Write + Send),
) -> Result<Summary> {
    let schema = stream.schema();
    let mut summary = Summary::default();
    match format {
        Format::Table => {
            let mut kept: Vec<RecordBatch> = Vec::new();
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(FerryError::from)?;
                summary.rows += batch.num_rows() as u64;
                let room = TABLE_ROWS - summary.shown;
                if room > 0 {
                    let take = batch.slice(0, batch.num_rows().min(room));
                    summary.shown += take.num_rows();
                    kept.push(take);
                }
            }
            if kept.is_empty() {
                kept.push(RecordBatch::new_empty(schema));
            }
            let table = arrow::util::pretty::pretty_format_batches(&kept)?;
            writeln!(out, "{table}").map_err(io_error)?;
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut *out);
            let mut wrote = false;
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(FerryError::from)?;
                summary.rows += batch.num_rows() as u64;
                writer.write(&batch)?;
                wrote = true;
            }
            if !wrote {
                writer.write(&RecordBatch::new_empty(schema))?;
            }
        }
        Format::Json => {
            let mut writer = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::JsonArray>(&mut *out);
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(FerryError::from)?;
                summary.rows += batch.num_rows() as u64;
                writer.write(&batch)?;
            }
            writer.finish()?; // writes `[]` for an empty result too
            writeln!(out).map_err(io_error)?;
        }
        Format::Parquet => {
            let properties = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                .build();
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(&mut *out, schema, Some(properties)).map_err(io_error)?;
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(FerryError::from)?;
                summary.rows += batch.num_rows() as u64;
                writer.write(&batch).map_err(io_error)?;
            }
            writer.close().map_err(io_error)?;
        }
    }
    out.flush().map_err(io_error)?;
    Ok(summary)
}

impl Summary {
    /// `3 rows in 0.012 s`, or `1,000 of 52,000 rows shown in 1.2 s`.
    pub fn line(&self) -> String {
        let rows = crate::report::thousands(self.rows as i64);
        let noun = if self.rows == 1 { "row" } else { "rows" };
        if (self.shown as u64) < self.rows && self.shown > 0 {
            format!("{} of {rows} {noun} shown, in {:.3} s", crate::report::thousands(self.shown as i64), self.seconds)
        } else {
            format!("{rows} {noun} in {:.3} s", self.seconds)
        }
    }
}
