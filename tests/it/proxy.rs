//! A TCP proxy for fault tests: it passes a test's connections to a real server, holding each
//! new connection back for a while, or cutting them all once some bytes have passed.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to the connections it passes.
#[derive(Clone, Copy)]
pub enum Fault {
    /// Connection number n (from 0) waits `delay(n)` before it reaches the server.
    Delay(fn(usize) -> Duration),
    /// Every connection is closed once this many bytes in all have gone from the client to the
    /// server (and new connections are refused from then on), until `heal`.
    CutAfter(u64),
}

pub struct Proxy {
    pub port: u16,
    cut: Arc<AtomicBool>,
    /// Whether `CutAfter` still cuts (until `heal`).
    armed: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and passes connections to `upstream` (host:port).
    pub async fn start(upstream: &str, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = upstream.to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let armed = Arc::new(AtomicBool::new(true));
        let sent = Arc::new(AtomicU64::new(0));
        let count = Arc::new(AtomicUsize::new(0));
        let (task_cut, task_armed) = (cut.clone(), armed.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let number = count.fetch_add(1, Ordering::SeqCst);
                let (upstream, cut, sent) = (upstream.clone(), task_cut.clone(), sent.clone());
                let armed = task_armed.clone();
                tokio::spawn(async move {
                    if cut.load(Ordering::SeqCst) {
                        return; // refused: dropped at once
                    }
                    if let Fault::Delay(delay) = fault {
                        tokio::time::sleep(delay(number)).await;
                    }
                    let Ok(server) = TcpStream::connect(&upstream).await else { return };
                    let limit = match fault {
                        Fault::CutAfter(bytes) if armed.load(Ordering::SeqCst) => Some(bytes),
                        _ => None,
                    };
                    pass(client, server, limit, cut, sent).await;
                });
            }
        });
        Proxy { port, cut, armed, task }
    }

    /// Lets connections through again after a cut, and cuts no more.
    pub fn heal(&self) {
        self.armed.store(false, Ordering::SeqCst);
        self.cut.store(false, Ordering::SeqCst);
    }

    /// A proxy in front of the server of `url`.
    pub async fn before(url: &str, fault: Fault) -> Proxy {
        let url = url::Url::parse(url).unwrap();
        Proxy::start(&format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432)), fault).await
    }

    /// `url` (of the real server) pointed at the proxy.
    pub fn url(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_port(Some(self.port)).unwrap();
        url.to_string()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies both ways until either side closes, or the cut.
async fn pass(client: TcpStream, server: TcpStream, limit: Option<u64>, cut: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upward = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let Ok(read) = client_read.read(&mut buffer).await else { return };
            if read == 0 || cut.load(Ordering::SeqCst) {
                return;
            }
            let total = sent.fetch_add(read as u64, Ordering::SeqCst) + read as u64;
            if limit.is_some_and(|limit| total >= limit) {
                cut.store(true, Ordering::SeqCst);
                return;
            }
            if server_write.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    };
    let downward = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let Ok(read) = server_read.read(&mut buffer).await else { return };
            if read == 0 || cut.load(Ordering::SeqCst) || client_write.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    };
    // Either direction ending ends the connection (both halves are dropped).
    tokio::select! {
        _ = upward => {}
        _ = downward => {}
    }
}
