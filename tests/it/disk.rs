//! A full disk in the middle of a run: while writing a Parquet table, and while a check spills
//! the rows it audits. Each is a clear error, and nothing is published. The full disk is a 1 MB
//! tmpfs the test mounts (it runs as root, as CI does).

use std::path::PathBuf;

use crate::atomic::{load, parquet_rows, source, walk};
use crate::common::{ferry, PgDatabase};

/// A 1 MB tmpfs mounted at a new folder, unmounted when dropped.
struct SmallDisk {
    path: PathBuf,
    _folder: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> SmallDisk {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "mounting a tmpfs needs root (CI runs as root)");
        SmallDisk { path, _folder: folder }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.path).status();
    }
}

/// 40,000 rows of distinct hashes, about 5 MB as Parquet: more than the disk holds.
const BIG_ROWS: &str = "SELECT CAST(id AS INT) AS user_id, name AS full_name, CAST(id AS BIGINT) AS boom, \
                        sha256(CAST(id AS VARCHAR)) AS a, sha256(md5(CAST(id AS VARCHAR))) AS b, sha512(CAST(id AS VARCHAR)) AS c FROM source_table";
const FEW_ROWS: &str = "SELECT CAST(id AS INT) AS user_id, name AS full_name, CAST(id AS BIGINT) AS boom, \
                        sha256(CAST(id AS VARCHAR)) AS a, sha256(md5(CAST(id AS VARCHAR))) AS b, sha512(CAST(id AS VARCHAR)) AS c FROM source_table WHERE id <= 3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_while_writing_parquet_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path()).await;
    let disk = SmallDisk::mount();
    let target = format!("file://{}", disk.path.display());
    assert_eq!(load(dir.path(), &source, &target, FEW_ROWS, "replace").await, None);
    let error = load(dir.path(), &source, &target, BIG_ROWS, "replace").await.expect("the disk is full");
    assert!(error.contains("`t`") && error.contains("No space left on device"), "{error}");
    assert_eq!(parquet_rows(&disk.path).await, 3, "the table as it was");
    let staged: Vec<_> = walk(&disk.path.join("_ferry_staging"));
    assert!(staged.is_empty(), "the staged files are removed: {staged:?}");
}

/// The `unique` check spills the rows it audits to the temporary folder: there, the disk fills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_while_a_check_spills_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path()).await;
    let target = PgDatabase::new();
    assert_eq!(load(dir.path(), &source, &target.url, FEW_ROWS, "replace").await, None);
    let job = format!(
        "[connections]\nsource = \"{source}\"\ntarget = \"{}\"\n[[migrations]]\nname = \"m\"\nsource = \"source\"\n\
         query = \"queries/q.sql\"\ntarget = \"target\"\ntable = \"t\"\nkey = [\"user_id\"]\n\
         [[migrations.checks]]\ntype = \"unique\"\ncolumns = [\"a\"]\n",
        target.url
    );
    std::fs::write(dir.path().join("queries/q.sql"), BIG_ROWS).unwrap();
    std::fs::write(dir.path().join("job.toml"), job).unwrap();
    let disk = SmallDisk::mount();
    let output =
        ferry().current_dir(dir.path()).env("TMPDIR", &disk.path).args(["run", "--job", "job.toml"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    let error = stderr.lines().find(|line| line.starts_with("error:")).unwrap_or_default();
    let error = error.replace(&disk.path.display().to_string(), "TMPDIR");
    let folder = error.split("ferry-audit-").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_default();
    let error = error.replace(folder, "X");
    insta::assert_snapshot!(error, @"error: cannot write the temporary file `TMPDIR/ferry-audit-X/staged.arrow`: No space left on device (os error 28); free space there, or point TMPDIR at a larger disk");
    assert_eq!(target.rows("SELECT count(*) FROM t"), [[Some("3".into())]], "nothing published");
}
