//! Encodes Arrow record batches in PostgreSQL's binary COPY format (the inverse of
//! `decode`). Arrays are downcast once per batch; the row loop only appends bytes.

use arrow::array::{
    Array, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Decimal256Array, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, StringArray, Time64MicrosecondArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, TimeUnit};
use arrow::record_batch::RecordBatch;
use bytes::{BufMut, BytesMut};

use crate::decimal::{format_unscaled, split_decimal};

pub const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
const EPOCH_DAYS: i32 = 10_957;
const EPOCH_MICROS: i64 = 946_684_800_000_000;

/// How a column travels on the wire, chosen from the target column's PostgreSQL type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireType {
    Native,
    Jsonb,
    Uuid,
    /// Decimal text (any digits, `NaN`, `±Infinity`) into a `numeric` column.
    Numeric,
    /// Text that PostgreSQL parses with the column type's input function (sent as text to a
    /// staging column, then cast).
    Cast,
}

enum Column<'a> {
    Boolean(&'a BooleanArray),
    Int16(&'a Int16Array),
    Int32(&'a Int32Array),
    Int64(&'a Int64Array),
    Float32(&'a Float32Array),
    Float64(&'a Float64Array),
    Decimal(&'a Decimal128Array, i8),
    WideDecimal(&'a Decimal256Array, i8),
    Text(&'a StringArray, WireType),
    Binary(&'a BinaryArray),
    Date(&'a Date32Array),
    Timestamp(&'a TimestampMicrosecondArray),
    Time(&'a Time64MicrosecondArray),
}

impl<'a> Column<'a> {
    fn new(array: &'a dyn Array, wire: WireType) -> Result<Column<'a>, String> {
        Ok(match array.data_type() {
            DataType::Boolean => Column::Boolean(array.as_boolean()),
            DataType::Int16 => Column::Int16(array.as_primitive::<Int16Type>()),
            DataType::Int32 => Column::Int32(array.as_primitive::<Int32Type>()),
            DataType::Int64 => Column::Int64(array.as_primitive::<Int64Type>()),
            DataType::Float32 => Column::Float32(array.as_primitive::<Float32Type>()),
            DataType::Float64 => Column::Float64(array.as_primitive::<Float64Type>()),
            DataType::Decimal128(_, scale) => Column::Decimal(array.as_primitive(), *scale),
            DataType::Decimal256(_, scale) => Column::WideDecimal(array.as_primitive(), *scale),
            DataType::Utf8 => Column::Text(array.as_string::<i32>(), wire),
            DataType::Binary => Column::Binary(array.as_binary::<i32>()),
            DataType::Date32 => Column::Date(array.as_primitive()),
            DataType::Timestamp(TimeUnit::Microsecond, _) => Column::Timestamp(array.as_primitive()),
            DataType::Time64(TimeUnit::Microsecond) => Column::Time(array.as_primitive()),
            other => return Err(format!("no binary COPY encoding for Arrow type {other}")),
        })
    }

    fn write(&self, row: usize, out: &mut BytesMut) -> Result<(), String> {
        macro_rules! fixed {
            ($len:expr, $value:expr) => {{
                out.put_i32($len);
                $value;
            }};
        }
        match self {
            Column::Boolean(a) => fixed!(1, out.put_u8(a.value(row) as u8)),
            Column::Int16(a) => fixed!(2, out.put_i16(a.value(row))),
            Column::Int32(a) => fixed!(4, out.put_i32(a.value(row))),
            Column::Int64(a) => fixed!(8, out.put_i64(a.value(row))),
            Column::Float32(a) => fixed!(4, out.put_f32(a.value(row))),
            Column::Float64(a) => fixed!(8, out.put_f64(a.value(row))),
            Column::Decimal(a, scale) => write_numeric(a.value(row), *scale, out),
            Column::WideDecimal(a, scale) => write_numeric_text(&format_unscaled(a.value(row), *scale), out)?,
            Column::Text(a, WireType::Numeric) => write_numeric_text(a.value(row), out)?,
            Column::Text(a, WireType::Native | WireType::Cast) => {
                let text = a.value(row).as_bytes();
                out.put_i32(text.len() as i32);
                out.put_slice(text);
            }
            Column::Text(a, WireType::Jsonb) => {
                let text = a.value(row).as_bytes();
                out.put_i32(text.len() as i32 + 1);
                out.put_u8(1);
                out.put_slice(text);
            }
            Column::Text(a, WireType::Uuid) => {
                let text = a.value(row);
                let hex: String = text.chars().filter(|c| *c != '-').collect();
                if hex.len() != 32 {
                    return Err(format!("`{text}` is not a UUID"));
                }
                let value = u128::from_str_radix(&hex, 16).map_err(|_| format!("`{text}` is not a UUID"))?;
                fixed!(16, out.put_u128(value))
            }
            Column::Binary(a) => {
                let value = a.value(row);
                out.put_i32(value.len() as i32);
                out.put_slice(value);
            }
            Column::Date(a) => fixed!(4, out.put_i32(a.value(row) - EPOCH_DAYS)),
            Column::Timestamp(a) => fixed!(8, out.put_i64(a.value(row) - EPOCH_MICROS)),
            Column::Time(a) => fixed!(8, out.put_i64(a.value(row))),
        }
        Ok(())
    }
}

/// Appends every row of `batch` to `out`. `wires` has one entry per column.
pub fn encode_batch(batch: &RecordBatch, wires: &[WireType], out: &mut BytesMut) -> Result<(), String> {
    let columns = batch
        .columns()
        .iter()
        .zip(wires)
        .map(|(array, wire)| Column::new(array.as_ref(), *wire))
        .collect::<Result<Vec<_>, _>>()?;
    let arrays = batch.columns();
    let width = columns.len() as i16;
    for row in 0..batch.num_rows() {
        out.put_i16(width);
        for (index, column) in columns.iter().enumerate() {
            if arrays[index].is_null(row) {
                out.put_i32(-1);
            } else {
                column.write(row, out).map_err(|e| format!("column `{}`: {e}", batch.schema().field(index).name()))?;
            }
        }
    }
    Ok(())
}

/// Bytes of encoded rows gathered before one CopyData message is sent.
pub const FLUSH_BYTES: usize = 1 << 20;

/// The header that opens a binary COPY stream.
pub fn header(out: &mut BytesMut) {
    out.put_slice(SIGNATURE);
    out.put_i32(0);
    out.put_i32(0);
}

/// The trailer that closes one.
pub fn trailer(out: &mut BytesMut) {
    out.put_i16(-1);
}

/// An unscaled i128 at `scale` in PostgreSQL's numeric send format: base-10000 digit groups
/// aligned on the decimal point, leading and trailing zero groups dropped.
fn write_numeric(unscaled: i128, scale: i8, out: &mut BytesMut) {
    let negative = unscaled < 0;
    let magnitude = unscaled.unsigned_abs();
    let scale = scale.max(0) as u32;
    let divisor = 10u128.pow(scale);
    let (whole, fraction) = (magnitude / divisor, magnitude % divisor);
    // Fraction digits padded to a multiple of four, as groups, most significant first.
    let padded_scale = scale.div_ceil(4) * 4;
    let mut groups: Vec<i16> = Vec::with_capacity(12);
    let mut fraction_groups: Vec<i16> = Vec::with_capacity(10);
    if padded_scale > 0 {
        let mut rest = fraction;
        let pad = padded_scale - scale;
        // Handle the padding digit by digit so no multiplication can overflow.
        let mut digits = [0u8; 48];
        for i in (0..scale as usize).rev() {
            digits[i] = (rest % 10) as u8;
            rest /= 10;
        }
        let _ = pad;
        for chunk in digits[..padded_scale as usize].chunks(4) {
            fraction_groups.push(chunk.iter().fold(0i16, |acc, d| acc * 10 + *d as i16));
        }
    }
    let mut rest = whole;
    let mut whole_groups: Vec<i16> = Vec::with_capacity(10);
    while rest > 0 {
        whole_groups.push((rest % 10_000) as i16);
        rest /= 10_000;
    }
    whole_groups.reverse();
    let mut weight = whole_groups.len() as i16 - 1;
    groups.extend_from_slice(&whole_groups);
    groups.extend_from_slice(&fraction_groups);
    // Drop leading zero groups (only possible when there is no whole part).
    let leading = groups.iter().take_while(|g| **g == 0).count();
    if whole_groups.is_empty() {
        weight = -1 - leading as i16;
    }
    let groups = &groups[leading..];
    let trailing = groups.iter().rev().take_while(|g| **g == 0).count();
    let groups = &groups[..groups.len() - trailing];
    if groups.is_empty() {
        weight = 0;
    }
    out.put_i32(8 + 2 * groups.len() as i32);
    out.put_i16(groups.len() as i16);
    out.put_i16(weight);
    out.put_u16(if negative && !groups.is_empty() { 0x4000 } else { 0 });
    out.put_u16(scale as u16);
    for group in groups {
        out.put_i16(*group);
    }
}

/// Decimal text (`-12.340`, `NaN`, `Infinity`, `-Infinity`; any number of digits) in
/// PostgreSQL's numeric send format, keeping the text's scale (`12.340` stays `12.340`).
fn write_numeric_text(text: &str, out: &mut BytesMut) -> Result<(), String> {
    let special = match text.trim() {
        "NaN" => Some(0xC000u16),
        "Infinity" | "+Infinity" => Some(0xD000),
        "-Infinity" => Some(0xF000),
        _ => None,
    };
    if let Some(sign) = special {
        out.put_i32(8);
        out.put_i16(0);
        out.put_i16(0);
        out.put_u16(sign);
        out.put_u16(0);
        return Ok(());
    }
    let (negative, whole, fraction) = split_decimal(text)?;
    if fraction.len() > 16383 || whole.len() > 131072 {
        return Err(format!("`{text}` has more digits than PostgreSQL's numeric holds"));
    }
    // Base-10000 groups aligned on the decimal point: the whole part padded on the left, the
    // fraction on the right, to multiples of four digits.
    let whole = whole.trim_start_matches('0');
    let whole_pad = (4 - whole.len() % 4) % 4;
    let fraction_pad = (4 - fraction.len() % 4) % 4;
    let padded: Vec<u8> = std::iter::repeat_n(b'0', whole_pad)
        .chain(whole.bytes())
        .chain(fraction.bytes())
        .chain(std::iter::repeat_n(b'0', fraction_pad))
        .collect();
    let mut groups: Vec<i16> =
        padded.chunks(4).map(|chunk| chunk.iter().fold(0i16, |acc, d| acc * 10 + (d - b'0') as i16)).collect();
    let mut weight = ((whole.len() + whole_pad) / 4) as i32 - 1;
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= leading as i32;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.put_i32(8 + 2 * groups.len() as i32);
    out.put_i16(groups.len() as i16);
    out.put_i16(weight as i16);
    out.put_u16(if negative && !groups.is_empty() { 0x4000 } else { 0 });
    out.put_u16(fraction.len() as u16);
    for group in groups {
        out.put_i16(group);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::postgres::decode::numeric_to_i128;

    fn round_trip(unscaled: i128, scale: i8) -> i128 {
        let mut out = BytesMut::new();
        write_numeric(unscaled, scale, &mut out);
        numeric_to_i128(&out[4..], scale).unwrap()
    }

    #[test]
    fn numerics_round_trip() {
        for (value, scale) in [
            (10050, 2),
            (-5, 2),
            (0, 2),
            (12_345_678, 0),
            (1, 10),
            (-99_999_999_999_999_999_999_999_999_999_999_999_999i128, 38),
            (99_999_999_999_999_999_999_999_999_999_999_999_999i128, 0),
            (100_000_000, 4),
        ] {
            assert_eq!(round_trip(value, scale), value, "{value} at scale {scale}");
        }
    }

    #[test]
    fn numeric_text_matches_the_fixed_point_encoding() {
        for (text, unscaled, scale) in [
            ("100.50", 10050, 2),
            ("-0.05", -5, 2),
            ("0.00", 0, 2),
            ("12345678", 12_345_678, 0),
            ("0.0000000001", 1, 10),
            ("10000.0000", 100_000_000, 4),
            ("-99999999999999999999999999999999999999", -99_999_999_999_999_999_999_999_999_999_999_999_999i128, 0),
        ] {
            let (mut fixed, mut from_text) = (BytesMut::new(), BytesMut::new());
            write_numeric(unscaled, scale, &mut fixed);
            write_numeric_text(text, &mut from_text).unwrap();
            assert_eq!(fixed, from_text, "{text}");
        }
        let mut out = BytesMut::new();
        assert!(write_numeric_text("1e5", &mut out).unwrap_err().contains("not a decimal number"));
    }
}
