//! Decodes PostgreSQL's binary COPY format into Arrow record batches, column builder by column
//! builder, with no per-value allocation beyond the builders' own buffers.
//!
//! Format: an 11-byte signature, flags and an extension area; then per tuple an i16 field count
//! (-1 ends the data) and per field an i32 length (-1 is NULL) followed by the value in the
//! type's binary send format.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::decimal::Unscaled;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Days and microseconds between 1970-01-01 (Arrow's epoch) and 2000-01-01 (PostgreSQL's).
const EPOCH_DAYS: i32 = 10_957;
const EPOCH_MICROS: i64 = 946_684_800_000_000;

enum Column {
    Boolean(BooleanBuilder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal(Decimal128Builder, i8),
    WideDecimal(Decimal256Builder, i8),
    Text(StringBuilder),
    Binary(BinaryBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Time(Time64MicrosecondBuilder),
}

impl Column {
    fn new(data_type: &DataType, capacity: usize) -> Result<Column, String> {
        Ok(match data_type {
            DataType::Boolean => Column::Boolean(BooleanBuilder::with_capacity(capacity)),
            DataType::Int16 => Column::Int16(Int16Builder::with_capacity(capacity)),
            DataType::Int32 => Column::Int32(Int32Builder::with_capacity(capacity)),
            DataType::Int64 => Column::Int64(Int64Builder::with_capacity(capacity)),
            DataType::Float32 => Column::Float32(Float32Builder::with_capacity(capacity)),
            DataType::Float64 => Column::Float64(Float64Builder::with_capacity(capacity)),
            DataType::Decimal128(_, scale) => {
                Column::Decimal(Decimal128Builder::with_capacity(capacity).with_data_type(data_type.clone()), *scale)
            }
            DataType::Decimal256(_, scale) => Column::WideDecimal(
                Decimal256Builder::with_capacity(capacity).with_data_type(data_type.clone()),
                *scale,
            ),
            DataType::Utf8 => Column::Text(StringBuilder::with_capacity(capacity, capacity * 16)),
            DataType::Binary => Column::Binary(BinaryBuilder::with_capacity(capacity, capacity * 16)),
            DataType::Date32 => Column::Date(Date32Builder::with_capacity(capacity)),
            DataType::Timestamp(TimeUnit::Microsecond, zone) => {
                Column::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone_opt(zone.clone()))
            }
            DataType::Time64(TimeUnit::Microsecond) => Column::Time(Time64MicrosecondBuilder::with_capacity(capacity)),
            other => return Err(format!("no binary decoder for Arrow type {other}")),
        })
    }

    fn append_null(&mut self) {
        match self {
            Column::Boolean(b) => b.append_null(),
            Column::Int16(b) => b.append_null(),
            Column::Int32(b) => b.append_null(),
            Column::Int64(b) => b.append_null(),
            Column::Float32(b) => b.append_null(),
            Column::Float64(b) => b.append_null(),
            Column::Decimal(b, _) => b.append_null(),
            Column::WideDecimal(b, _) => b.append_null(),
            Column::Text(b) => b.append_null(),
            Column::Binary(b) => b.append_null(),
            Column::Date(b) => b.append_null(),
            Column::Timestamp(b) => b.append_null(),
            Column::Time(b) => b.append_null(),
        }
    }

    fn append(&mut self, value: &[u8]) -> Result<(), String> {
        match self {
            Column::Boolean(b) => b.append_value(fixed::<1>(value)?[0] != 0),
            Column::Int16(b) => b.append_value(i16::from_be_bytes(fixed(value)?)),
            Column::Int32(b) => b.append_value(i32::from_be_bytes(fixed(value)?)),
            Column::Int64(b) => b.append_value(i64::from_be_bytes(fixed(value)?)),
            Column::Float32(b) => b.append_value(f32::from_be_bytes(fixed(value)?)),
            Column::Float64(b) => b.append_value(f64::from_be_bytes(fixed(value)?)),
            Column::Decimal(b, scale) => b.append_value(numeric_to_i128(value, *scale)?),
            Column::WideDecimal(b, scale) => b.append_value(numeric_to_unscaled(value, *scale)?),
            Column::Text(b) => b.append_value(std::str::from_utf8(value).map_err(|e| e.to_string())?),
            Column::Binary(b) => b.append_value(value),
            Column::Date(b) => {
                let days = i32::from_be_bytes(fixed(value)?);
                if days == i32::MAX || days == i32::MIN {
                    return Err("the date is ±infinity, which Arrow cannot hold".into());
                }
                b.append_value(days.checked_add(EPOCH_DAYS).ok_or("date out of Arrow's range")?)
            }
            Column::Timestamp(b) => {
                let micros = i64::from_be_bytes(fixed(value)?);
                if micros == i64::MAX || micros == i64::MIN {
                    return Err("the timestamp is ±infinity, which Arrow cannot hold".into());
                }
                b.append_value(micros.checked_add(EPOCH_MICROS).ok_or("timestamp out of Arrow's range")?)
            }
            Column::Time(b) => b.append_value(i64::from_be_bytes(fixed(value)?)),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Boolean(b) => Arc::new(b.finish()),
            Column::Int16(b) => Arc::new(b.finish()),
            Column::Int32(b) => Arc::new(b.finish()),
            Column::Int64(b) => Arc::new(b.finish()),
            Column::Float32(b) => Arc::new(b.finish()),
            Column::Float64(b) => Arc::new(b.finish()),
            Column::Decimal(b, _) => Arc::new(b.finish()),
            Column::WideDecimal(b, _) => Arc::new(b.finish()),
            Column::Text(b) => Arc::new(b.finish()),
            Column::Binary(b) => Arc::new(b.finish()),
            Column::Date(b) => Arc::new(b.finish()),
            Column::Timestamp(b) => Arc::new(b.finish()),
            Column::Time(b) => Arc::new(b.finish()),
        }
    }
}

fn fixed<const N: usize>(value: &[u8]) -> Result<[u8; N], String> {
    value.try_into().map_err(|_| format!("expected {N} bytes, got {}", value.len()))
}

/// PostgreSQL's numeric send format -> an unscaled i128 at `scale`, exactly, or an error.
pub fn numeric_to_i128(value: &[u8], scale: i8) -> Result<i128, String> {
    numeric_to_unscaled(value, scale)
}

/// [`numeric_to_i128`] for any unscaled width (i256 for `numeric(p, s)` with p > 38).
pub fn numeric_to_unscaled<T: Unscaled>(value: &[u8], scale: i8) -> Result<T, String> {
    if value.len() < 8 {
        return Err("truncated numeric".into());
    }
    let ndigits = i16::from_be_bytes([value[0], value[1]]) as i32;
    let weight = i16::from_be_bytes([value[2], value[3]]) as i32;
    let sign = u16::from_be_bytes([value[4], value[5]]);
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Err("NaN cannot be held in a decimal column".into()),
        _ => return Err("±Infinity cannot be held in a decimal column".into()),
    }
    if value.len() < 8 + 2 * ndigits as usize {
        return Err("truncated numeric".into());
    }
    let overflow = || "the value does not fit in the column's decimal digits".to_string();
    let too_precise = || format!("the value has more than {scale} decimal places");
    // Group i holds the decimal digits with exponents 4*(weight-i)+3 down to 4*(weight-i). Digits
    // below 10^-scale must be zero and are left out while accumulating, so padding never overflows.
    let smallest = -(scale as i32);
    let mut unscaled = T::ZERO;
    let mut lowest = smallest;
    for i in 0..ndigits as usize {
        let group = u16::from_be_bytes([value[8 + 2 * i], value[9 + 2 * i]]);
        let low = 4 * (weight - i as i32);
        if low >= smallest {
            unscaled = unscaled.mul_add(10_000, group).ok_or_else(overflow)?;
            lowest = low;
        } else if low + 3 >= smallest {
            let dropped = (smallest - low) as u32;
            let divisor = 10u16.pow(dropped);
            if !group.is_multiple_of(divisor) {
                return Err(too_precise());
            }
            unscaled = unscaled.mul_add(10u16.pow(4 - dropped), group / divisor).ok_or_else(overflow)?;
            lowest = smallest;
        } else if group != 0 {
            return Err(too_precise());
        }
    }
    for _ in smallest..lowest {
        unscaled = unscaled.mul_add(10, 0).ok_or_else(overflow)?;
    }
    Ok(if sign == 0x4000 { unscaled.negate() } else { unscaled })
}

/// Accumulates COPY data and hands out full batches.
pub struct CopyDecoder {
    schema: SchemaRef,
    columns: Vec<Column>,
    batch_rows: usize,
    rows: usize,
    buffer: Vec<u8>,
    header_done: bool,
    ended: bool,
    row_number: u64,
}

impl CopyDecoder {
    pub fn new(schema: SchemaRef, batch_rows: usize) -> Self {
        CopyDecoder {
            schema,
            columns: Vec::new(),
            batch_rows,
            rows: 0,
            buffer: Vec::new(),
            header_done: false,
            ended: false,
            row_number: 0,
        }
    }

    fn ensure_columns(&mut self) -> Result<(), String> {
        if self.columns.is_empty() && !self.schema.fields().is_empty() {
            self.columns = self
                .schema
                .fields()
                .iter()
                .map(|f| Column::new(f.data_type(), self.batch_rows))
                .collect::<Result<_, _>>()?;
        }
        Ok(())
    }

    /// Consumes one chunk of COPY data (any split); returns the batches it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<RecordBatch>, String> {
        self.ensure_columns()?;
        let mut batches = Vec::new();
        if self.buffer.is_empty() {
            // Whole rows are decoded where they lie; only a row cut in two waits in the buffer.
            let used = self.decode(chunk, &mut batches)?;
            self.buffer.extend_from_slice(&chunk[used..]);
        } else {
            self.buffer.extend_from_slice(chunk);
            let buffer = std::mem::take(&mut self.buffer);
            let used = self.decode(&buffer, &mut batches);
            self.buffer = buffer;
            self.buffer.drain(..used?);
        }
        Ok(batches)
    }

    /// Decodes the header and the whole rows at the start of `data`; returns the bytes used.
    fn decode(&mut self, data: &[u8], batches: &mut Vec<RecordBatch>) -> Result<usize, String> {
        let mut position = 0;
        if !self.header_done {
            if data.len() < SIGNATURE.len() + 8 {
                return Ok(0);
            }
            if &data[..SIGNATURE.len()] != SIGNATURE {
                return Err("not a binary COPY stream".into());
            }
            position = SIGNATURE.len() + 8 + read_i32(data, SIGNATURE.len() + 4).max(0) as usize;
            if data.len() < position {
                return Ok(0);
            }
            self.header_done = true;
        }
        while !self.ended {
            let Some(end) = tuple_end(data, position) else { break };
            let fields = i16::from_be_bytes([data[position], data[position + 1]]);
            if fields == -1 {
                self.ended = true;
                position = end;
                break;
            }
            self.decode_tuple(data, position + 2, fields as usize)?;
            position = end;
            if self.rows == self.batch_rows {
                batches.push(self.take_batch()?);
            }
        }
        Ok(position)
    }

    fn decode_tuple(&mut self, data: &[u8], mut position: usize, fields: usize) -> Result<(), String> {
        self.row_number += 1;
        // More fields than columns happens: a read of no columns selects a placeholder.
        if fields < self.columns.len() {
            return Err(format!("row {} has {fields} fields, {} were expected", self.row_number, self.columns.len()));
        }
        for index in 0..fields {
            let length = read_i32(data, position);
            position += 4;
            let value = (length >= 0).then(|| &data[position..position + length as usize]);
            position += length.max(0) as usize;
            let Some(column) = self.columns.get_mut(index) else { continue };
            match value {
                None => column.append_null(),
                Some(value) => column.append(value).map_err(|message| {
                    format!("row {}, column `{}`: {message}", self.row_number, self.schema.field(index).name())
                })?,
            }
        }
        self.rows += 1;
        Ok(())
    }

    fn take_batch(&mut self) -> Result<RecordBatch, String> {
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(Column::finish).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        self.rows = 0;
        RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options).map_err(|e| e.to_string())
    }

    /// The last, partial batch once the stream has ended.
    pub fn finish(&mut self) -> Result<Option<RecordBatch>, String> {
        if !self.buffer.is_empty() {
            return Err("COPY data ended in the middle of a row".into());
        }
        if self.rows == 0 {
            return Ok(None);
        }
        self.take_batch().map(Some)
    }
}

fn read_i32(buffer: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([buffer[at], buffer[at + 1], buffer[at + 2], buffer[at + 3]])
}

/// Where the tuple starting at `position` ends, if the buffer holds all of it.
fn tuple_end(buffer: &[u8], position: usize) -> Option<usize> {
    if buffer.len() < position + 2 {
        return None;
    }
    let fields = i16::from_be_bytes([buffer[position], buffer[position + 1]]);
    let mut at = position + 2;
    for _ in 0..fields.max(0) {
        if buffer.len() < at + 4 {
            return None;
        }
        let length = read_i32(buffer, at);
        at += 4 + length.max(0) as usize;
    }
    (buffer.len() >= at).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(ndigits: i16, weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [ndigits as u16, weight as u16, sign, dscale] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    #[test]
    fn rows_decode_the_same_however_the_data_is_cut() {
        use crate::db::postgres::encode::{encode_batch, header, trailer, WireType};
        use arrow::array::{Int32Array, StringArray};
        use arrow::datatypes::{Field, Schema};
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let ids: Vec<Option<i32>> = (0..100).map(|i| (i % 7 != 0).then_some(i)).collect();
        let names: Vec<Option<String>> = (0..100).map(|i| (i % 5 != 0).then(|| "é".repeat(i))).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int32Array::from(ids)), Arc::new(StringArray::from(names))],
        )
        .unwrap();
        let mut data = bytes::BytesMut::new();
        header(&mut data);
        encode_batch(&batch, &[WireType::Native, WireType::Native], &mut data).unwrap();
        trailer(&mut data);
        for piece in [1, 2, 7, 64, 1000, data.len()] {
            let mut decoder = CopyDecoder::new(schema.clone(), 30);
            let mut batches = Vec::new();
            for chunk in data.chunks(piece) {
                batches.extend(decoder.push(chunk).unwrap());
            }
            batches.extend(decoder.finish().unwrap());
            assert_eq!(batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [30, 30, 30, 10], "pieces of {piece}");
            assert_eq!(arrow::compute::concat_batches(&schema, &batches).unwrap(), batch, "pieces of {piece}");
        }
        let mut cut = CopyDecoder::new(schema.clone(), 30);
        cut.push(&data[..data.len() / 2]).unwrap();
        assert_eq!(cut.finish().unwrap_err(), "COPY data ended in the middle of a row");
        // A field beyond the schema's columns is skipped whole; a missing one is an error.
        let first = Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, true)]));
        let mut fewer = CopyDecoder::new(first.clone(), 100);
        let ids = fewer.push(&data).unwrap().into_iter().chain(fewer.finish().unwrap()).collect::<Vec<_>>();
        assert_eq!(ids, [batch.project(&[0]).unwrap()]);
        let mut wrong = CopyDecoder::new(schema.clone(), 30);
        let mut narrow = bytes::BytesMut::new();
        header(&mut narrow);
        encode_batch(&batch.project(&[0]).unwrap(), &[WireType::Native], &mut narrow).unwrap();
        assert_eq!(wrong.push(&narrow).unwrap_err(), "row 1 has 1 fields, 2 were expected");
    }

    #[test]
    fn numerics_decode_exactly() {
        // 100.50 = [100, 5000] weight 0
        assert_eq!(numeric_to_i128(&numeric(2, 0, 0, 2, &[100, 5000]), 2), Ok(10050));
        // -0.05 = [500] weight -1
        assert_eq!(numeric_to_i128(&numeric(1, -1, 0x4000, 2, &[500]), 2), Ok(-5));
        // 12345678 = [1234, 5678] weight 1, at scale 0
        assert_eq!(numeric_to_i128(&numeric(2, 1, 0, 0, &[1234, 5678]), 0), Ok(12_345_678));
        assert_eq!(numeric_to_i128(&numeric(0, 0, 0, 0, &[]), 2), Ok(0));
        assert!(numeric_to_i128(&numeric(0, 0, 0xC000, 0, &[]), 2).is_err());
        assert!(numeric_to_i128(&numeric(1, -1, 0, 4, &[1234]), 2).unwrap_err().contains("more than 2"));
    }
}
