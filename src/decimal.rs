//! Exact decimal text <-> Arrow's unscaled i128, for drivers that carry decimals as text.

/// Parses `-123.45`, `+7`, `1e3`-free decimal text into an unscaled i128 at `scale`. Digits
/// beyond `scale` must be zeros (no silent rounding); more than `precision` digits is an error.
pub fn parse_decimal(text: &str, precision: u8, scale: i8) -> Result<i128, String> {
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
    let scale_digits = scale.max(0) as usize;
    let kept = fraction.len().min(scale_digits);
    if fraction[kept..].bytes().any(|b| b != b'0') {
        return Err(format!("`{text}` has more than {scale} decimal places"));
    }
    let mut unscaled: i128 = 0;
    let too_large = || format!("`{text}` does not fit in a decimal({precision}, {scale})");
    for byte in whole.bytes().chain(fraction[..kept].bytes()) {
        unscaled = unscaled.checked_mul(10).and_then(|v| v.checked_add((byte - b'0') as i128)).ok_or_else(too_large)?;
    }
    for _ in kept..scale_digits {
        unscaled = unscaled.checked_mul(10).ok_or_else(too_large)?;
    }
    if unscaled >= 10i128.pow(precision.min(38) as u32) {
        return Err(too_large());
    }
    Ok(if negative { -unscaled } else { unscaled })
}

/// Formats an unscaled i128 at `scale` as decimal text (`10050`, 2 -> `100.50`).
pub fn format_decimal(unscaled: i128, scale: i8) -> String {
    let negative = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale.max(0) as usize;
    let text = if scale == 0 {
        digits
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(format_decimal(10050, 2), "100.50");
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(7, 0), "7");
        assert_eq!(format_decimal(0, 3), "0.000");
    }
}
