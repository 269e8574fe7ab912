//! Against a PostgreSQL cluster of the test's own (`pg_createcluster` on a free port) with
//! `ssl = on`, a certificate for `localhost` signed by a CA the test makes, and `hostssl` only.
//! TLS: `require`, `verify-ca` and `verify-full` connect (reads through ferry's own COPY reader
//! included); `disable` is refused by the server; a wrong CA, or a host the certificate does not
//! name, fails `verify-full` with a message that says so. Passwords come from the environment and
//! never show. A server that is down when a run starts is retried until it is back.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry::connection::Endpoint;
use ferry::copy::{copy, CopyOptions};

use crate::common::{ferry, sqlite_rows};

pub fn run(program: &str, args: &[&str]) {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// A CA (`name`.crt, `name`.key) in `dir`.
pub fn certificate_authority(dir: &Path, name: &str) -> PathBuf {
    let (key, crt) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.crt")));
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            crt.to_str().unwrap(),
        ],
    );
    crt
}

/// A CA (`ca.crt`) and a certificate for `localhost` it signed (`server.crt`, `server.key`).
pub fn server_certificate(dir: &Path) {
    let ca = certificate_authority(dir, "ca");
    let (key, csr, crt) = (dir.join("server.key"), dir.join("server.csr"), dir.join("server.crt"));
    let (key, csr, crt) = (key.to_str().unwrap(), csr.to_str().unwrap(), crt.to_str().unwrap());
    run("openssl", &["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", key, "-out", csr]);
    let extensions = dir.join("san.ext");
    std::fs::write(&extensions, "subjectAltName = DNS:localhost\n").unwrap();
    let (ca_key, ca) = (dir.join("ca.key"), ca.to_str().unwrap().to_string());
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            &ca,
            "-CAkey",
            ca_key.to_str().unwrap(),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            crt,
            "-extfile",
            extensions.to_str().unwrap(),
        ],
    );
}

/// A PostgreSQL cluster that exists for one test, TLS only over TCP.
struct Cluster {
    version: String,
    name: String,
    port: u16,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn new() -> Cluster {
        let version = std::fs::read_dir("/etc/postgresql").unwrap().next().unwrap().unwrap().file_name();
        let version = version.to_string_lossy().to_string();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let name = format!("ferry_tls_{}_{port}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        server_certificate(dir.path());
        run("pg_createcluster", &[&version, &name, "-p", &port.to_string()]);
        let cluster = Cluster { version, name, port, dir };
        let data = PathBuf::from(format!("/var/lib/postgresql/{}/{}", cluster.version, cluster.name));
        for file in ["server.key", "server.crt"] {
            std::fs::copy(cluster.dir.path().join(file), data.join(file)).unwrap();
            run("chown", &["postgres:postgres", data.join(file).to_str().unwrap()]);
            run("chmod", &["600", data.join(file).to_str().unwrap()]);
        }
        let config = PathBuf::from(format!("/etc/postgresql/{}/{}", cluster.version, cluster.name));
        let settings = format!(
            "\nssl = on\nssl_cert_file = '{0}/server.crt'\nssl_key_file = '{0}/server.key'\nlisten_addresses = '127.0.0.1'\n",
            data.display()
        );
        let mut conf = std::fs::read_to_string(config.join("postgresql.conf")).unwrap();
        conf.push_str(&settings);
        std::fs::write(config.join("postgresql.conf"), conf).unwrap();
        std::fs::write(
            config.join("pg_hba.conf"),
            "local all all trust\nhostssl all secretive 127.0.0.1/32 scram-sha-256\n\
             hostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        run("pg_ctlcluster", &["--skip-systemctl-redirect", &cluster.version, &cluster.name, "start"]);
        let socket = "/var/run/postgresql";
        run("psql", &["-h", socket, "-p", &cluster.port.to_string(), "-U", "postgres", "-c",
            "CREATE TABLE artist (id INT PRIMARY KEY, name TEXT); INSERT INTO artist VALUES (1, 'AC/DC'), (2, NULL); \
             CREATE ROLE secretive LOGIN SUPERUSER PASSWORD 'p/ss?w#rd'"]);
        cluster
    }

    fn url(&self, host: &str, parameters: &str) -> Endpoint {
        let url = format!("postgres://postgres@{host}:{}/postgres?{parameters}", self.port);
        Endpoint::parse(&url, Path::new(".")).unwrap()
    }

    fn control(&self, action: &str) {
        run("pg_ctlcluster", &["--skip-systemctl-redirect", &self.version, &self.name, action]);
    }

    fn ca(&self) -> String {
        self.dir.path().join("ca.crt").display().to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster").args(["--stop", &self.version, &self.name]).output();
    }
}

/// Copies the cluster's `artist` table into a new SQLite file through `source`: the catalog
/// through tokio-postgres, the rows through ferry's own COPY reader.
async fn copied(source: &Endpoint) -> Result<Vec<Vec<Option<String>>>, String> {
    let dir = tempfile::tempdir().unwrap();
    let target = Endpoint::Sqlite(dir.path().join("copy.db"));
    let report =
        copy(source, &target, &CopyOptions { workers: 1, ..Default::default() }).await.map_err(|e| e.to_string())?;
    if let Some(error) = report.run.error {
        return Err(error);
    }
    Ok(sqlite_rows(&dir.path().join("copy.db"), "SELECT id, name FROM artist ORDER BY id"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_as_the_url_asks() {
    let cluster = Cluster::new();
    let expected = vec![vec![Some("1".to_string()), Some("AC/DC".to_string())], vec![Some("2".to_string()), None]];
    let ca = cluster.ca();
    for parameters in [
        String::new(), // prefer
        "sslmode=require".to_string(),
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        format!("sslmode=verify-full&sslrootcert={ca}"),
    ] {
        assert_eq!(copied(&cluster.url("localhost", &parameters)).await, Ok(expected.clone()), "{parameters}");
    }
    // The certificate names localhost, not 127.0.0.1: only verify-full checks that.
    let by_address = format!("sslmode=verify-ca&sslrootcert={ca}");
    assert_eq!(copied(&cluster.url("127.0.0.1", &by_address)).await, Ok(expected.clone()));
    let endpoint = cluster.url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}"));
    let error = copied(&endpoint).await.unwrap_err();
    assert!(
        error
            .starts_with(&format!("cannot connect to `{endpoint}`: TLS with 127.0.0.1 failed (sslmode=verify-full): ")),
        "{error}"
    );
    // Another CA signed nothing of this server's.
    let other = certificate_authority(cluster.dir.path(), "other");
    let endpoint = cluster.url("localhost", &format!("sslmode=verify-full&sslrootcert={}", other.display()));
    let error = copied(&endpoint).await.unwrap_err();
    assert!(error.contains("TLS with localhost failed (sslmode=verify-full): "), "{error}");
    assert!(error.contains("certificate verify failed"), "{error}");
    // Without TLS the server refuses, and says why.
    let endpoint = cluster.url("localhost", "sslmode=disable");
    let error = copied(&endpoint).await.unwrap_err();
    assert!(error.contains("pg_hba.conf rejects connection") && error.contains("no encryption"), "{error}");
    // A CA file that is not there is named.
    let endpoint = cluster.url("localhost", "sslmode=verify-full&sslrootcert=/nonexistent/ca.crt");
    let error = copied(&endpoint).await.unwrap_err();
    assert!(error.contains("cannot read sslrootcert `/nonexistent/ca.crt`: "), "{error}");
}

/// The role's password, and as a URL spells it.
const PASSWORD: &str = "p/ss?w#rd";
const ENCODED: &str = "p%2Fss%3Fw%23rd";

#[test]
fn passwords_come_from_the_environment_and_never_show() {
    let cluster = Cluster::new();
    let dir = tempfile::tempdir().unwrap();
    let url =
        |auth: &str, database: &str| format!("postgres://{auth}localhost:{}/{database}?sslmode=require", cluster.port);
    let copy = |source: &str, envs: &[(&str, &str)]| {
        let target = format!("sqlite://{}", dir.path().join(format!("{}.db", envs.len())).display());
        let mut command = ferry();
        command.current_dir(dir.path()).env_remove("PGPASSWORD").env("PGPASSFILE", "/nonexistent");
        command.args(["copy", "--source", source, "--target", &target, "--if-exists", "replace", "--json"]);
        command.args(["--report", "report.json"]);
        for (key, value) in envs {
            command.env(key, value);
        }
        command.output().unwrap()
    };
    // From PGPASSWORD, and from a password file (ignored while others can read it).
    let output = copy(&url("secretive@", "postgres"), &[("PGPASSWORD", PASSWORD)]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let file = dir.path().join("pgpass");
    std::fs::write(&file, format!("localhost:*:*:secretive:{}\n", PASSWORD.replace(':', "\\:"))).unwrap();
    run("chmod", &["600", file.to_str().unwrap()]);
    let output = copy(&url("secretive@", "postgres"), &[("PGPASSFILE", file.to_str().unwrap())]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // A run that fails (no such database) with the password in the URL, or as a parameter:
    // nothing it prints or writes shows the password.
    for source in [
        url(&format!("secretive:{ENCODED}@"), "no_such_database"),
        format!("{}&password={ENCODED}", url("secretive@", "no_such_database")),
    ] {
        let _ = std::fs::remove_file(dir.path().join("report.json"));
        let output = copy(&source, &[]);
        assert!(!output.status.success());
        let mut shown = String::from_utf8_lossy(&output.stdout).to_string();
        shown.push_str(&String::from_utf8_lossy(&output.stderr));
        shown.push_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap_or_default());
        assert!(shown.contains("no_such_database"), "{shown}");
        for secret in [PASSWORD, ENCODED, "p/ss", "w#rd"] {
            assert!(!shown.contains(secret), "{secret} shown in: {shown}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_when_the_run_starts_is_retried_until_it_is_back() {
    let cluster = Cluster::new();
    let dir = crate::common::job_dir(&[]);
    let source = dir.path().join("source.db");
    ferry::generate::generate(&Endpoint::Sqlite(source.clone()), 100, true).await.unwrap();
    let migrate = |target: String, retries: u32| {
        let overrides =
            ferry::job::Overrides { source: Some(format!("sqlite://{}", source.display())), target: Some(target) };
        let plan = ferry::job::Plan::load(&dir.path().join("ferry.toml"), &overrides).unwrap();
        async move {
            let options = ferry::incremental::RunOptions { retries, ..Default::default() };
            ferry::run::run_with(&plan, &["users".to_string()], &options, ferry::run::Progress::Quiet).await.unwrap()
        }
    };
    let target = format!("postgres://postgres@localhost:{}/postgres?sslmode=require", cluster.port);
    cluster.control("stop");
    let restart = {
        let (version, name) = (cluster.version.clone(), cluster.name.clone());
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(1500));
            run("pg_ctlcluster", &["--skip-systemctl-redirect", &version, &name, "start"]);
        })
    };
    let report = migrate(target.clone(), 5).await;
    restart.join().unwrap();
    assert_eq!(report.error, None);
    let users = &report.migrations[0];
    assert_eq!(users.rows_loaded, 105);
    assert!(!users.retried.is_empty(), "no retry");
    assert!(
        users.retried.iter().all(|e| e.contains("Connection refused") || e.contains("starting up")),
        "{:?}",
        users.retried
    );
    // A wrong password does not pass: no retry.
    let wrong = format!("postgres://secretive:wrong@localhost:{}/postgres?sslmode=require", cluster.port);
    let report = migrate(wrong, 5).await;
    assert!(
        report.error.as_deref().unwrap_or_default().contains("password authentication failed"),
        "{:?}",
        report.error
    );
    assert!(report.migrations[0].retried.is_empty());
}
