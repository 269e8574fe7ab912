//! A PostgreSQL session's socket: the first of the URL's hosts that answers, then TLS as the URL
//! asks, with libpq's parameters: `sslmode` = `disable`, `prefer` (the default: TLS when the
//! server offers it, unverified), `require` (TLS, unverified), `verify-ca` (the server's
//! certificate signed by a trusted CA) or `verify-full` (and issued for the host named);
//! `sslrootcert` (the CA file trusted instead of the platform's), `sslcert` and `sslkey` (a client
//! certificate and its PKCS#8 key, PEM). ferry sends the SSLRequest itself and hands tokio-postgres
//! the encrypted stream, so that its sessions and ferry's own COPY reader share one
//! implementation: the platform's TLS through `native-tls` (OpenSSL on Linux).

use std::io;
use std::path::PathBuf;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::Config;

use crate::connection::Endpoint;

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
pub type Socket = Box<dyn Io>;

/// The URL's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// What the URL asks of TLS.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Tls {
    mode: Mode,
    root: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

/// The session's settings from its URL, and its socket, connected and (as asked) encrypted.
pub async fn open(endpoint: &Endpoint) -> Result<(Config, Socket), String> {
    let (config, tls) = settings(endpoint)?;
    let connecting = async {
        let (socket, host) = connect(&config).await?;
        let Some(host) = host else { return Ok(socket) }; // a Unix socket: no TLS, as with libpq
        match negotiate(socket, &tls, &host).await {
            // As libpq: `prefer` goes on without TLS when the handshake fails.
            Err(error) if tls.mode == Mode::Prefer => {
                tracing::warn!(%error, "TLS failed; going on unencrypted (sslmode=prefer)");
                let plain = Tls { mode: Mode::Disable, ..tls.clone() };
                negotiate(connect(&config).await?.0, &plain, &host).await
            }
            outcome => outcome,
        }
    };
    let socket = match config.get_connect_timeout() {
        Some(limit) => {
            tokio::time::timeout(*limit, connecting).await.map_err(|_| format!("no answer within {limit:?}"))?
        }
        None => connecting.await,
    }?;
    Ok((config, socket))
}

/// tokio-postgres' settings without the TLS parameters (which it does not know all of), and those.
fn settings(endpoint: &Endpoint) -> Result<(Config, Tls), String> {
    let mut url = url::Url::parse(&endpoint.secret_url()).map_err(|e| e.to_string())?;
    let pairs = super::query_pairs(&url);
    let given = pairs.len();
    let mut tls = Tls { mode: Mode::Prefer, root: None, cert: None, key: None };
    let mut kept = Vec::new();
    for (key, value) in pairs {
        match key.as_str() {
            "sslmode" => {
                tls.mode = match value.as_str() {
                    "disable" | "allow" => Mode::Disable,
                    "prefer" => Mode::Prefer,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    other => {
                        return Err(format!(
                            "sslmode={other} is not a TLS mode; use disable, prefer, require, verify-ca or verify-full"
                        ))
                    }
                }
            }
            "sslrootcert" => tls.root = Some(PathBuf::from(value)),
            "sslcert" => tls.cert = Some(PathBuf::from(value)),
            "sslkey" => tls.key = Some(PathBuf::from(value)),
            // ferry's own: see `source::snapshot_wanted`.
            "snapshot" if value == "on" || value == "off" => {}
            "snapshot" => return Err(format!("snapshot={value}: use snapshot=on (the default) or snapshot=off")),
            _ => kept.push((key, value)),
        }
    }
    if kept.len() < given {
        super::set_query_pairs(&mut url, &kept);
    }
    let mut config: Config = url.as_str().parse().map_err(|e: tokio_postgres::Error| super::pg_message(&e))?;
    config.ssl_mode(SslMode::Disable); // ferry negotiates TLS itself, before tokio-postgres' startup
    super::password::fill(&mut config);
    Ok((config, tls))
}

/// The first of the URL's hosts that accepts a connection, with its name for TLS (None for a
/// Unix socket).
async fn connect(config: &Config) -> Result<(Socket, Option<String>), String> {
    let ports = config.get_ports();
    let mut last = "the URL names no host".to_string();
    for (index, host) in config.get_hosts().iter().enumerate() {
        let port = ports.get(index).or(ports.first()).copied().unwrap_or(5432);
        let attempt: io::Result<(Socket, Option<String>)> = match (host, config.get_hostaddrs().get(index)) {
            (Host::Tcp(name), Some(address)) => tcp((*address, port)).await.map(|s| (s, Some(name.clone()))),
            (Host::Tcp(name), None) => tcp((name.as_str(), port)).await.map(|s| (s, Some(name.clone()))),
            #[cfg(unix)]
            (Host::Unix(directory), _) => tokio::net::UnixStream::connect(directory.join(format!(".s.PGSQL.{port}")))
                .await
                .map(|socket| (Box::new(socket) as Socket, None)),
        };
        match attempt {
            Ok(found) => return Ok(found),
            Err(error) => last = format!("error connecting to server: {error}"),
        }
    }
    Err(last)
}

async fn tcp(address: impl tokio::net::ToSocketAddrs) -> io::Result<Socket> {
    let socket = tokio::net::TcpStream::connect(address).await?;
    socket.set_nodelay(true)?;
    Ok(Box::new(socket))
}

/// The SSLRequest message: its length and the request code.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Asks the server for TLS unless `sslmode=disable`, and encrypts the socket when it agrees.
async fn negotiate(mut socket: Socket, tls: &Tls, host: &str) -> Result<Socket, String> {
    if tls.mode == Mode::Disable {
        return Ok(socket);
    }
    let broken = |e: io::Error| format!("error connecting to server: {e}");
    socket.write_all(&SSL_REQUEST).await.map_err(broken)?;
    socket.flush().await.map_err(broken)?;
    let mut answer = [0u8; 1];
    socket.read_exact(&mut answer).await.map_err(broken)?;
    match (answer[0], tls.mode) {
        (b'S', _) => {}
        (_, Mode::Prefer) => return Ok(socket),
        (_, mode) => {
            return Err(format!(
                "the server does not accept TLS connections, which sslmode={} requires; \
                 enable ssl on the server or use sslmode=prefer",
                name(mode)
            ))
        }
    }
    let connector = shared_connector(tls)?;
    let stream = tokio_native_tls::TlsConnector::from(connector)
        .connect(host, socket)
        .await
        .map_err(|e| format!("TLS with {host} failed (sslmode={}): {e}", name(tls.mode)))?;
    Ok(Box::new(stream))
}

fn name(mode: Mode) -> &'static str {
    match mode {
        Mode::Disable => "disable",
        Mode::Prefer => "prefer",
        Mode::Require => "require",
        Mode::VerifyCa => "verify-ca",
        Mode::VerifyFull => "verify-full",
    }
}

/// The TLS clients made so far, by what they were made from: making one reads the platform's CA
/// store (and the URL's files), which cost a copy ~25 ms per connection, several per table.
static CONNECTORS: std::sync::Mutex<Vec<(Tls, native_tls::TlsConnector)>> = std::sync::Mutex::new(Vec::new());

/// [`connector`] for `tls`, made once per process.
fn shared_connector(tls: &Tls) -> Result<native_tls::TlsConnector, String> {
    let made = CONNECTORS.lock().ok().and_then(|made| made.iter().find(|(t, _)| t == tls).map(|(_, c)| c.clone()));
    if let Some(connector) = made {
        return Ok(connector);
    }
    let connector = connector(tls)?;
    if let Ok(mut made) = CONNECTORS.lock() {
        made.push((tls.clone(), connector.clone()));
    }
    Ok(connector)
}

/// The TLS client: what it verifies follows the mode, whom it trusts `sslrootcert` (else the
/// platform's CAs), who it is `sslcert` and `sslkey`.
fn connector(tls: &Tls) -> Result<native_tls::TlsConnector, String> {
    let read = |what: &str, path: &PathBuf| {
        std::fs::read(path).map_err(|e| format!("cannot read {what} `{}`: {e}", path.display()))
    };
    let mut builder = native_tls::TlsConnector::builder();
    match tls.mode {
        Mode::Disable | Mode::Prefer | Mode::Require => {
            builder.danger_accept_invalid_certs(true).danger_accept_invalid_hostnames(true);
        }
        Mode::VerifyCa => {
            builder.danger_accept_invalid_hostnames(true);
        }
        Mode::VerifyFull => {}
    }
    if let Some(path) = &tls.root {
        let certificate = native_tls::Certificate::from_pem(&read("sslrootcert", path)?)
            .map_err(|e| format!("sslrootcert `{}` is not a PEM certificate: {e}", path.display()))?;
        builder.add_root_certificate(certificate).disable_built_in_roots(true);
    }
    match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let identity = native_tls::Identity::from_pkcs8(&read("sslcert", cert)?, &read("sslkey", key)?)
                .map_err(|e| format!("sslcert and sslkey are not a PEM certificate and PKCS#8 key: {e}"))?;
            builder.identity(identity);
        }
        (None, None) => {}
        _ => return Err("sslcert and sslkey go together: give both, or neither".into()),
    }
    builder.build().map_err(|e| format!("cannot set up TLS: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> Endpoint {
        Endpoint::parse(url, std::path::Path::new(".")).unwrap()
    }

    #[test]
    fn tls_parameters_are_ferrys_and_the_rest_tokio_postgres() {
        let (config, tls) = settings(&endpoint(
            "postgres://u@db.example:6543/shop?sslmode=verify-full&sslrootcert=/ca.pem&application_name=a%20b",
        ))
        .unwrap();
        assert_eq!(tls.mode, Mode::VerifyFull);
        assert_eq!(tls.root, Some(PathBuf::from("/ca.pem")));
        assert_eq!(config.get_application_name(), Some("a b"));
        assert_eq!(config.get_ports(), [6543]);
        let (_, tls) = settings(&endpoint("postgres://u@h/d")).unwrap();
        assert_eq!(tls.mode, Mode::Prefer);
        let error = settings(&endpoint("postgres://u@h/d?sslmode=always")).unwrap_err();
        assert_eq!(error, "sslmode=always is not a TLS mode; use disable, prefer, require, verify-ca or verify-full");
    }
}
