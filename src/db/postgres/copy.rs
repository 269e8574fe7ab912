//! A PostgreSQL session that streams a binary `COPY ... TO STDOUT` straight off its socket.
//!
//! tokio-postgres hands COPY data over as one `Bytes` per CopyData message, and PostgreSQL sends
//! one message per row: per row a message parse, a reference-counted split and a hop between
//! tasks, which profiling showed as about a quarter of a migration's CPU. Here tokio-postgres
//! still opens the session (startup and every authentication method it knows), then gives the
//! socket back; the COPY's messages are then walked in place, a large read at a time, and their
//! payloads handed to the decoder as they lie in the read buffer.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_postgres::NoTls;

use super::connect::{pg_message, unreachable};
use crate::connection::Endpoint;
use crate::error::Result;

/// Free space the read buffer keeps before each read.
const READ_BYTES: usize = 256 * 1024;

use super::socket::Socket;

pub struct CopySession {
    socket: Socket,
    buffer: BytesMut,
    /// Bytes of the current CopyData message not yet handed over.
    copy_left: usize,
}

impl CopySession {
    /// Connects and authenticates as tokio-postgres would; errors name the masked URL.
    pub async fn open(endpoint: &Endpoint) -> Result<CopySession> {
        let failed = |message: String| unreachable(endpoint, message);
        let start = async {
            let (config, socket) = super::socket::open(endpoint).await?;
            let slot = Arc::new(Mutex::new(Some(socket)));
            // Startup only: the client is never used, so the connection is never polled and
            // writes nothing more (not even a Terminate) before the socket is taken back.
            let (client, connection) =
                config.connect_raw(Lent(slot.clone()), NoTls).await.map_err(|e| pg_message(&e))?;
            drop((client, connection));
            let socket = slot.lock().ok().and_then(|mut socket| socket.take());
            socket.ok_or_else(|| "the connection was lost during its startup".to_string())
        };
        let socket = start.await.map_err(failed)?;
        Ok(CopySession { socket, buffer: BytesMut::with_capacity(READ_BYTES), copy_left: 0 })
    }

    /// Runs statements that return no COPY data.
    pub async fn execute(&mut self, sql: &str) -> std::result::Result<(), String> {
        self.query(sql).await?;
        while self.read_some(|_| Err("the statement unexpectedly sent COPY data".to_string())).await? {}
        Ok(())
    }

    /// Sends a query (a `COPY ... TO STDOUT`) whose data [`CopySession::read_some`] then reads.
    pub async fn query(&mut self, sql: &str) -> std::result::Result<(), String> {
        let mut message = BytesMut::new();
        postgres_protocol::message::frontend::query(sql, &mut message).map_err(|e| e.to_string())?;
        self.socket.write_all(&message).await.map_err(broken)?;
        self.socket.flush().await.map_err(broken)
    }

    /// Reads what the server has sent, handing COPY data to `consume` in pieces (not aligned on
    /// rows or messages); false once the query has finished. The server's error is the error.
    pub async fn read_some(
        &mut self,
        mut consume: impl FnMut(&[u8]) -> std::result::Result<(), String>,
    ) -> std::result::Result<bool, String> {
        self.buffer.reserve(READ_BYTES);
        if self.socket.read_buf(&mut self.buffer).await.map_err(broken)? == 0 {
            return Err("the server closed the connection".into());
        }
        let data = &self.buffer[..];
        let mut at = 0;
        let mut finished = false;
        while !finished {
            if self.copy_left > 0 {
                let piece = self.copy_left.min(data.len() - at);
                if piece == 0 {
                    break;
                }
                consume(&data[at..at + piece])?;
                at += piece;
                self.copy_left -= piece;
                continue;
            }
            let Some(header) = data.get(at..at + 5) else { break };
            let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
            if length < 4 {
                return Err(format!("malformed message from the server (type {:?})", header[0] as char));
            }
            if header[0] == b'd' {
                self.copy_left = length - 4;
                at += 5;
                continue;
            }
            let Some(body) = data.get(at + 5..at + 1 + length) else { break };
            match header[0] {
                b'E' => return Err(error_text(body)),
                b'Z' => finished = true,
                // CopyOutResponse, CopyDone, CommandComplete, ParameterStatus, notices.
                _ => {}
            }
            at += 1 + length;
        }
        self.buffer.advance(at);
        Ok(!finished)
    }
}

/// An ErrorResponse's fields as ferry words the server's errors: message (detail); hint.
fn error_text(body: &[u8]) -> String {
    let (mut message, mut detail, mut hint) = (String::new(), None, None);
    for field in body.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let value = String::from_utf8_lossy(&field[1..]).into_owned();
        match field[0] {
            b'M' => message = value,
            b'D' => detail = Some(value),
            b'H' => hint = Some(value),
            _ => {}
        }
    }
    if let Some(detail) = detail {
        message.push_str(&format!(" ({detail})"));
    }
    if let Some(hint) = hint {
        message.push_str(&format!("; hint: {hint}"));
    }
    message
}

fn broken(error: io::Error) -> String {
    format!("the connection to the server broke: {error}")
}

/// Lends the socket to tokio-postgres for the startup; taking it back leaves this end closed.
struct Lent(Arc<Mutex<Option<Socket>>>);

impl Lent {
    fn with<T>(&self, io: impl FnOnce(Pin<&mut Socket>) -> Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match self.0.lock() {
            Ok(mut slot) => match slot.as_mut() {
                Some(socket) => io(Pin::new(socket)),
                None => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
            },
            Err(_) => Poll::Ready(Err(io::Error::other("the socket's lock is poisoned"))),
        }
    }
}

impl AsyncRead for Lent {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.with(|socket| socket.poll_read(cx, buf))
    }
}

impl AsyncWrite for Lent {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.with(|socket| socket.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|socket| socket.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|socket| socket.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[test]
    fn server_errors_keep_their_detail_and_hint() {
        let body = b"SERROR\0C42P01\0Mrelation \"x\" does not exist\0Dsee here\0Hcreate it\0\0";
        assert_eq!(error_text(body), "relation \"x\" does not exist (see here); hint: create it");
        assert_eq!(error_text(b"Mplain\0\0"), "plain");
    }
}
