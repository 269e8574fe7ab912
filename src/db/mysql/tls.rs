//! TLS for MySQL/MariaDB with the URL parameters of MySQL's own client: `ssl-mode=DISABLED|
//! PREFERRED|REQUIRED|VERIFY_CA|VERIFY_IDENTITY` (`PREFERRED`, the default, encrypts when the
//! server offers TLS, without verifying it, and talks plain to a server without TLS; `REQUIRED`
//! insists on TLS; `VERIFY_CA` also checks the server's certificate against a trusted CA;
//! `VERIFY_IDENTITY` also that it names the host) and `ssl-ca=FILE` (the CA to trust instead of
//! the platform's). The `mysql` crate encrypts with native-tls (OpenSSL on Linux), for ferry's
//! own sessions and for connectorx's reads, which take the same parameters; a preferred mode is
//! settled once per server (does it offer TLS?) and handed to connectorx as what it means there.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use mysql::SslOpts;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Disabled => "DISABLED",
            Mode::Preferred => "PREFERRED",
            Mode::Required => "REQUIRED",
            Mode::VerifyCa => "VERIFY_CA",
            Mode::VerifyIdentity => "VERIFY_IDENTITY",
        })
    }
}

/// A URL's TLS settings, and the URL without them (which the `mysql` crate would refuse).
#[derive(Debug)]
pub struct Settings {
    pub url: url::Url,
    pub mode: Mode,
    ca: Option<PathBuf>,
}

/// Reads and removes `ssl-mode` (also `sslmode`) and `ssl-ca` from `url`.
pub fn settings(url: &str) -> Result<Settings, String> {
    let mut parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    let (mut mode, mut ca, mut kept) = (Mode::Preferred, None, Vec::new());
    for (key, value) in parsed.query_pairs() {
        match key.to_ascii_lowercase().as_str() {
            "ssl-mode" | "sslmode" => {
                mode = match value.to_ascii_uppercase().replace('-', "_").as_str() {
                    "DISABLED" => Mode::Disabled,
                    "PREFERRED" => Mode::Preferred,
                    "REQUIRED" => Mode::Required,
                    "VERIFY_CA" => Mode::VerifyCa,
                    "VERIFY_IDENTITY" => Mode::VerifyIdentity,
                    other => {
                        return Err(format!(
                            "ssl-mode={other} is not a TLS mode; use DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
                        ))
                    }
                }
            }
            "ssl-ca" => ca = Some(PathBuf::from(value.into_owned())),
            _ => kept.push((key.into_owned(), value.into_owned())),
        }
    }
    parsed.set_query(None);
    if !kept.is_empty() {
        parsed.query_pairs_mut().extend_pairs(&kept);
    }
    Ok(Settings { url: parsed, mode, ca })
}

impl Settings {
    /// The `mysql` crate's TLS options for `mode` (None: plain).
    pub fn options(&self, mode: Mode) -> Option<SslOpts> {
        let (accept_any, any_host) = match mode {
            Mode::Disabled => return None,
            Mode::Preferred | Mode::Required => (true, true),
            Mode::VerifyCa => (false, true),
            Mode::VerifyIdentity => (false, false),
        };
        Some(
            SslOpts::default()
                .with_danger_accept_invalid_certs(accept_any)
                .with_danger_skip_domain_validation(any_host)
                .with_root_cert_path(self.ca.clone()),
        )
    }

    /// The URL connectorx reads with: the mode written as connectorx takes it, a preferred
    /// mode as `tls` (whether the server offers TLS) settled it.
    pub fn reader_url(&self, tls: bool) -> String {
        let mode = match self.mode {
            Mode::Disabled => return self.url.to_string(),
            Mode::Preferred if !tls => return self.url.to_string(),
            Mode::Preferred | Mode::Required => "REQUIRED",
            Mode::VerifyCa => "VERIFY_CA",
            Mode::VerifyIdentity => "VERIFY_IDENTITY",
        };
        let mut url = self.url.clone();
        url.query_pairs_mut().append_pair("ssl-mode", mode);
        if let Some(ca) = &self.ca {
            url.query_pairs_mut().append_pair("ssl-ca", &ca.display().to_string());
        }
        url.to_string()
    }
}

/// Whether each server (by URL without its TLS settings) offers TLS, as connecting found.
static OFFERS: Mutex<BTreeMap<String, bool>> = Mutex::new(BTreeMap::new());

/// Whether the server of `settings` offers TLS, if a connection found out.
pub fn offers_tls(settings: &Settings) -> Option<bool> {
    OFFERS.lock().ok().and_then(|known| known.get(settings.url.as_str()).copied())
}

/// Remembers whether the server of `settings` offers TLS.
pub fn remember(settings: &Settings, offers: bool) {
    if let Ok(mut known) = OFFERS.lock() {
        known.insert(settings.url.to_string(), offers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_read_and_removed_from_the_url() {
        let read = settings("mysql://u@h:3306/db?ssl-mode=verify_identity&ssl-ca=/ca.pem&prefer_socket=false").unwrap();
        assert_eq!((read.mode, read.url.as_str()), (Mode::VerifyIdentity, "mysql://u@h:3306/db?prefer_socket=false"));
        assert_eq!(
            read.reader_url(true),
            "mysql://u@h:3306/db?prefer_socket=false&ssl-mode=VERIFY_IDENTITY&ssl-ca=%2Fca.pem"
        );
        let default = settings("mysql://u@h:3306/db").unwrap();
        assert_eq!(default.mode, Mode::Preferred);
        assert_eq!(default.reader_url(false), "mysql://u@h:3306/db");
        assert_eq!(default.reader_url(true), "mysql://u@h:3306/db?ssl-mode=REQUIRED");
        let error = settings("mysql://u@h/db?ssl-mode=sometimes").unwrap_err();
        assert_eq!(
            error,
            "ssl-mode=SOMETIMES is not a TLS mode; use DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
        );
    }
}
