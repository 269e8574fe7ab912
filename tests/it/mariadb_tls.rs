//! Against a MariaDB server of the test's own (`mariadb-install-db` and `mariadbd` on a free
//! port) that requires secure transport, with a certificate for `localhost` signed by a CA the
//! test makes. The default (`ssl-mode` PREFERRED), `REQUIRED`, `VERIFY_CA` and `VERIFY_IDENTITY`
//! write and read (ferry's own sessions and connectorx's reads alike); `DISABLED` is refused by
//! the server; a wrong CA, or a host the certificate does not name, fails verification. The
//! shared MariaDB of the machine has no TLS: the preferred mode talks plain to it, as every other
//! test shows.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use ferry::job::{Overrides, Plan};
use ferry::run::{run, Progress};

use crate::cluster::{certificate_authority, run as run_program, server_certificate};
use crate::common::{sqlite_rows, PgDatabase};

/// A MariaDB server that exists for one test, TLS only.
struct Server {
    port: u16,
    dir: tempfile::TempDir,
    process: Child,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        server_certificate(dir.path());
        let data = dir.path().join("data");
        let data_dir = format!("--datadir={}", data.display());
        run_program(
            "mariadb-install-db",
            &["--no-defaults", &data_dir, "--auth-root-authentication-method=normal", "--skip-test-db", "--user=root"],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let file = |name: &str| dir.path().join(name).display().to_string();
        let process = Command::new("mariadbd")
            .args(["--no-defaults", &data_dir, "--user=root", "--bind-address=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--socket={}", file("socket")))
            .arg(format!("--pid-file={}", file("pid")))
            .arg(format!("--log-error={}", file("error.log")))
            .arg(format!("--ssl-ca={}", file("ca.crt")))
            .arg(format!("--ssl-cert={}", file("server.crt")))
            .arg(format!("--ssl-key={}", file("server.key")))
            .arg("--require-secure-transport=ON")
            .spawn()
            .unwrap();
        let server = Server { port, dir, process };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "mariadbd did not start: {}", server.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// The URL of database `test` (made by the first load) with `parameters`.
    fn url(&self, host: &str, parameters: &str) -> String {
        format!("mysql://root@{host}:{}/mysql?prefer_socket=false&{parameters}", self.port)
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Writes 3 rows of PostgreSQL into table `t` of `url`, then reads them back from there into a
/// SQLite file; returns the rows or the error.
async fn round_trip(url: &str, postgres: &PgDatabase, dir: &Path) -> Result<Vec<Vec<Option<String>>>, String> {
    std::fs::create_dir_all(dir.join("queries")).unwrap();
    std::fs::write(dir.join("queries/in.sql"), "SELECT * FROM people").unwrap();
    std::fs::write(dir.join("queries/out.sql"), "SELECT * FROM t").unwrap();
    let sqlite = dir.join("back.db");
    let _ = std::fs::remove_file(&sqlite);
    let job = format!(
        "[connections]\npg = \"{}\"\nmaria = \"{url}\"\nback = \"sqlite://{}\"\n\
         [[migrations]]\nname = \"in\"\nsource = \"pg\"\nquery = \"queries/in.sql\"\ntarget = \"maria\"\ntable = \"t\"\nkey = [\"id\"]\n\
         [[migrations]]\nname = \"out\"\nsource = \"maria\"\nquery = \"queries/out.sql\"\ntarget = \"back\"\ntable = \"t\"\n\
         depends_on = [\"in\"]\n",
        postgres.url,
        sqlite.display()
    );
    let plan = Plan::from_toml(&job, "job.toml", dir, &Overrides::default()).map_err(|e| e.to_string())?;
    let report = run(&plan, &[], Progress::Quiet).await.map_err(|e| e.to_string())?;
    if let Some(error) = report.error {
        return Err(error);
    }
    Ok(sqlite_rows(&sqlite, "SELECT id, name FROM t ORDER BY id"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_over_tls_as_the_url_asks() {
    let server = Server::start();
    let postgres = PgDatabase::new();
    postgres.rows(
        "CREATE TABLE people (id int PRIMARY KEY, name text); INSERT INTO people VALUES (1, 'a'), (2, NULL), (3, 'ç')",
    );
    let expected = vec![
        vec![Some("1".to_string()), Some("a".to_string())],
        vec![Some("2".to_string()), None],
        vec![Some("3".to_string()), Some("ç".to_string())],
    ];
    let dir = tempfile::tempdir().unwrap();
    let ca = server.ca().display().to_string();
    for parameters in [
        String::new(), // PREFERRED
        "ssl-mode=REQUIRED".to_string(),
        format!("ssl-mode=VERIFY_CA&ssl-ca={ca}"),
        format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
    ] {
        let url = server.url("localhost", &parameters);
        assert_eq!(round_trip(&url, &postgres, dir.path()).await, Ok(expected.clone()), "{parameters}");
    }
    // The certificate names localhost, not 127.0.0.1: only VERIFY_IDENTITY checks that.
    let url = server.url("127.0.0.1", &format!("ssl-mode=VERIFY_CA&ssl-ca={ca}"));
    assert_eq!(round_trip(&url, &postgres, dir.path()).await, Ok(expected.clone()));
    let url = server.url("127.0.0.1", &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"));
    let error = round_trip(&url, &postgres, dir.path()).await.unwrap_err();
    assert!(error.contains("TLS failed"), "{error}");
    // Another CA signed nothing of this server's.
    let other = certificate_authority(server.dir.path(), "other");
    let url = server.url("localhost", &format!("ssl-mode=VERIFY_CA&ssl-ca={}", other.display()));
    let error = round_trip(&url, &postgres, dir.path()).await.unwrap_err();
    assert!(error.contains("TLS failed") && error.contains("certificate verify failed"), "{error}");
    // Without TLS the server refuses, and says why.
    let url = server.url("localhost", "ssl-mode=DISABLED");
    let error = round_trip(&url, &postgres, dir.path()).await.unwrap_err();
    assert!(
        error.ends_with("with ssl-mode=DISABLED: a server that requires secure transport refuses plain sessions"),
        "{error}"
    );
}

/// The machine's shared MariaDB has no TLS: a URL that requires it is refused before a session.
#[test]
fn a_server_without_tls_fails_a_required_mode() {
    let database = crate::common::MysqlDatabase::new();
    let url = format!("{}?ssl-mode=REQUIRED", database.url);
    let endpoint = ferry::connection::Endpoint::parse(&url, Path::new(".")).unwrap();
    let error = crate::common::block_on(async { ferry::db::open(&endpoint).ping().await }).unwrap_err().to_string();
    insta::assert_snapshot!(error.replace(&database.name, "DB"), @"cannot connect to `mysql://root@127.0.0.1:3306/DB?ssl-mode=REQUIRED`: the server does not offer TLS, which ssl-mode=REQUIRED requires");
}
