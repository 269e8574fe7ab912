//! Exact decimal text <-> Arrow's unscaled integers (i128 for Decimal128, i256 for
//! Decimal256), for drivers that carry decimals as text and for PostgreSQL's numeric.

use arrow::datatypes::i256;

/// An unscaled decimal integer: the digits of a decimal with its point removed.
pub trait Unscaled: Copy + PartialOrd + std::fmt::Display {
    const ZERO: Self;
    /// `self * by + add`, or `None` on overflow.
    fn mul_add(self, by: u16, add: u16) -> Option<Self>;
    fn negate(self) -> Self;
    /// 10^exponent, or `None` when it does not fit.
    fn power_of_ten(exponent: u32) -> Option<Self>;
}

impl Unscaled for i128 {
    const ZERO: Self = 0;
    fn mul_add(self, by: u16, add: u16) -> Option<Self> {
        self.checked_mul(by as i128)?.checked_add(add as i128)
    }
    fn negate(self) -> Self {
        -self
    }
    fn power_of_ten(exponent: u32) -> Option<Self> {
        10i128.checked_pow(exponent)
    }
}

impl Unscaled for i256 {
    const ZERO: Self = i256::ZERO;
    fn mul_add(self, by: u16, add: u16) -> Option<Self> {
        self.checked_mul(i256::from_i128(by as i128))?.checked_add(i256::from_i128(add as i128))
    }
    fn negate(self) -> Self {
        self.wrapping_neg()
    }
    fn power_of_ten(exponent: u32) -> Option<Self> {
        i256::from_i128(10).checked_pow(exponent)
    }
}

/// Splits `-123.45` into its sign, whole digits and fraction digits (`1e3` is refused).
pub fn split_decimal(text: &str) -> Result<(bool, &str, &str), String> {
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let valid = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !valid(whole) || !valid(fraction) {
        return Err(format!("`{text}` is not a decimal number"));
    }
    Ok((negative, whole, fraction))
}

/// Parses `-123.45`, `+7`, `1e3`-free decimal text into an unscaled i128 at `scale`. Digits
/// beyond `scale` must be zeros (no silent rounding); more than `precision` digits is an error.
pub fn parse_decimal(text: &str, precision: u8, scale: i8) -> Result<i128, String> {
    parse_unscaled(text, precision, scale)
}

/// [`parse_decimal`] for any unscaled width.
pub fn parse_unscaled<T: Unscaled>(text: &str, precision: u8, scale: i8) -> Result<T, String> {
    let (negative, whole, fraction) = split_decimal(text)?;
    let scale_digits = scale.max(0) as usize;
    let kept = fraction.len().min(scale_digits);
    if fraction[kept..].bytes().any(|b| b != b'0') {
        return Err(format!("`{text}` has more than {scale} decimal places"));
    }
    let mut unscaled = T::ZERO;
    let too_large = || format!("`{text}` does not fit in a decimal({precision}, {scale})");
    for byte in whole.bytes().chain(fraction[..kept].bytes()) {
        unscaled = unscaled.mul_add(10, (byte - b'0') as u16).ok_or_else(too_large)?;
    }
    for _ in kept..scale_digits {
        unscaled = unscaled.mul_add(10, 0).ok_or_else(too_large)?;
    }
    match T::power_of_ten(precision as u32) {
        Some(limit) if unscaled >= limit => return Err(too_large()),
        _ => {}
    }
    Ok(if negative { unscaled.negate() } else { unscaled })
}

/// Formats an unscaled integer at `scale` as decimal text (`10050`, 2 -> `100.50`).
pub fn format_unscaled<T: Unscaled>(unscaled: T, scale: i8) -> String {
    let printed = unscaled.to_string();
    let (negative, digits) = match printed.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, printed.as_str()),
    };
    let scale = scale.max(0) as usize;
    let text = if scale == 0 {
        digits.to_string()
    } else if digits.len() > scale {
        format!("{}.{}", &digits[..digits.len() - scale], &digits[digits.len() - scale..])
    } else {
        format!("0.{}{}", "0".repeat(scale - digits.len()), digits)
    };
    if negative {
        format!("-{text}")
    } else {
        text
    }
}

/// [`format_unscaled`] for a Decimal128 into `out` (cleared first), without allocating: the
/// digest of a load prints a decimal per row.
pub fn write_unscaled(unscaled: i128, scale: i8, out: &mut Vec<u8>) {
    out.clear();
    let scale = scale.max(0) as usize;
    let mut digits = [0u8; 40];
    let mut start = digits.len();
    let mut rest = unscaled.unsigned_abs();
    // Word-sized division once the value fits: most decimals do from the start.
    while rest > u64::MAX as u128 {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let mut small = rest as u64;
    loop {
        start -= 1;
        digits[start] = b'0' + (small % 10) as u8;
        small /= 10;
        if small == 0 {
            break;
        }
    }
    // At least one digit before the point.
    while digits.len() - start < scale + 1 {
        start -= 1;
        digits[start] = b'0';
    }
    if unscaled < 0 {
        out.push(b'-');
    }
    let point = digits.len() - scale;
    out.extend_from_slice(&digits[start..point]);
    if scale > 0 {
        out.push(b'.');
        out.extend_from_slice(&digits[point..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_as_it_formats() {
        let mut out = Vec::new();
        let values = [0i128, 1, -1, 5, -5, 10050, -10050, 999, 1000, i64::MAX as i128 + 1, i128::MAX, i128::MIN + 1];
        for value in values {
            for scale in [0i8, 1, 2, 4, 10, 38] {
                write_unscaled(value, scale, &mut out);
                assert_eq!(String::from_utf8(out.clone()).unwrap(), format_unscaled(value, scale), "{value} {scale}");
            }
        }
    }

    #[test]
    fn parses_exactly_or_refuses() {
        assert_eq!(parse_decimal("100.5", 10, 2), Ok(10050));
        assert_eq!(parse_decimal("-0.05", 10, 2), Ok(-5));
        assert_eq!(parse_decimal("+7", 10, 2), Ok(700));
        assert_eq!(parse_decimal("1.2300", 10, 2), Ok(123));
        assert!(parse_decimal("1.234", 10, 2).unwrap_err().contains("more than 2 decimal places"));
        assert!(parse_decimal("123456789", 10, 2).unwrap_err().contains("does not fit"));
        assert!(parse_decimal("abc", 10, 2).is_err());
        assert!(parse_decimal(".", 10, 2).is_err());
    }

    #[test]
    fn formats_with_the_scale() {
        assert_eq!(format_unscaled::<i128>(10050, 2), "100.50");
        assert_eq!(format_unscaled::<i128>(-5, 2), "-0.05");
        assert_eq!(format_unscaled::<i128>(7, 0), "7");
        assert_eq!(format_unscaled::<i128>(0, 3), "0.000");
    }

    #[test]
    fn wide_decimals_round_trip() {
        let text = "-12345678901234567890123456789012345.123456789012345678901234567890";
        let unscaled: i256 = parse_unscaled(text, 65, 30).unwrap();
        assert_eq!(format_unscaled(unscaled, 30), text);
        assert!(parse_unscaled::<i256>(text, 64, 30).unwrap_err().contains("does not fit"));
        assert!(parse_unscaled::<i128>(text, 65, 30).unwrap_err().contains("does not fit"));
    }
}
