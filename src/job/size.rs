//! Sizes as a job file writes them: `512MB`, `1GB`, `64MiB`, `2048` (bytes).

use crate::error::{FerryError, Result};

/// Bytes of `text`; `what` names the setting in the error.
pub fn parse_size(text: &str, what: &str) -> Result<usize> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let scale: usize = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" | "KIB" | "K" => 1 << 10,
        "MB" | "MIB" | "M" => 1 << 20,
        "GB" | "GIB" | "G" => 1 << 30,
        _ => 0,
    };
    let bytes = number.parse::<usize>().ok().and_then(|n| n.checked_mul(scale)).filter(|&bytes| bytes > 0);
    bytes.ok_or_else(|| {
        FerryError::Job(format!("{what} is `{text}`; write a size such as `512MB`, `2GB` or `65536` (bytes)"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_their_units() {
        assert_eq!(parse_size("512MB", "m").unwrap(), 512 << 20);
        assert_eq!(parse_size("2 GiB", "m").unwrap(), 2 << 30);
        assert_eq!(parse_size("64k", "m").unwrap(), 64 << 10);
        assert_eq!(parse_size("4096", "m").unwrap(), 4096);
        let error = parse_size("lots", "memory_limit").unwrap_err().to_string();
        assert_eq!(error, "memory_limit is `lots`; write a size such as `512MB`, `2GB` or `65536` (bytes)");
        assert!(parse_size("0MB", "m").is_err());
    }
}
