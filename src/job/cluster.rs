//! `cluster = "df://HOST:PORT"` and `stage = "URL"` in the job file (or `--cluster`, `--stage`):
//! the migrations' queries run on that Ballista cluster, over their sources staged under `stage`.

use std::path::Path;

use crate::connection::Endpoint;
use crate::error::{FerryError, Result};

/// What a cluster's failed job is reported as reading (`FerryError::Source`'s table); a run
/// retries it when the failure passes (an executor lost).
pub const CLUSTER_JOB: &str = "(the query's job on the cluster)";

/// A run whose queries the cluster at `url` (`df://HOST:PORT`) computes, over the source tables
/// staged to Parquet under `stage` (a folder every executor reaches, or an object store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterRun {
    pub url: String,
    pub stage: String,
}

/// The scheduler's host and port in a `df://HOST:PORT` URL; `what` names where it was written.
pub fn scheduler_address(url: &str, what: &str) -> Result<(String, u16)> {
    let bad = || {
        FerryError::Job(format!(
            "{what}: `{url}` is not a scheduler address; write df://HOST:PORT, e.g. df://127.0.0.1:50050"
        ))
    };
    let rest = url.strip_prefix("df://").ok_or_else(bad)?;
    let (host, port) = rest.trim_end_matches('/').rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse::<u16>().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// Both or neither; the scheduler's address well formed; the stage a Parquet place. `base`
/// resolves a relative `file://` stage.
pub fn check_cluster(
    cluster: Option<&str>,
    stage: Option<&str>,
    base: &Path,
    origin: &str,
) -> Result<Option<ClusterRun>> {
    let (url, stage) = match (cluster, stage) {
        (None, None) => return Ok(None),
        (Some(url), Some(stage)) => (url, stage),
        (Some(_), None) => {
            return Err(FerryError::Job(format!(
                "{origin}: `cluster` needs `stage`, where the sources are staged as Parquet for it (e.g. s3://bucket/stage)"
            )))
        }
        (None, Some(_)) => {
            return Err(FerryError::Job(format!("{origin}: `stage` is only used with `cluster = \"df://HOST:PORT\"`")))
        }
    };
    scheduler_address(url, origin)?;
    let endpoint = Endpoint::parse(stage, base).map_err(|e| FerryError::Job(format!("{origin}: stage: {e}")))?;
    if !crate::db::open(&endpoint).capabilities().files {
        return Err(FerryError::Job(format!(
            "{origin}: stage `{endpoint}` is a database; the cluster reads Parquet: give a folder (file://) or an object store (s3://)"
        )));
    }
    Ok(Some(ClusterRun { url: url.to_string(), stage: endpoint.secret_url() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_or_neither_and_each_well_formed() {
        let here = Path::new("/jobs");
        assert_eq!(check_cluster(None, None, here, "job").unwrap(), None);
        let run = check_cluster(Some("df://sched:50050"), Some("file://stage"), here, "job").unwrap().unwrap();
        assert_eq!(run, ClusterRun { url: "df://sched:50050".into(), stage: "file:///jobs/stage/".into() });
        let message = |cluster, stage| check_cluster(cluster, stage, here, "`ferry.toml`").unwrap_err().to_string();
        insta::assert_snapshot!(message(Some("df://s:1"), None), @"`ferry.toml`: `cluster` needs `stage`, where the sources are staged as Parquet for it (e.g. s3://bucket/stage)");
        insta::assert_snapshot!(message(None, Some("file:///s")), @r#"`ferry.toml`: `stage` is only used with `cluster = "df://HOST:PORT"`"#);
        insta::assert_snapshot!(message(Some("http://s:1"), Some("file:///s")), @"`ferry.toml`: `http://s:1` is not a scheduler address; write df://HOST:PORT, e.g. df://127.0.0.1:50050");
        insta::assert_snapshot!(message(Some("df://s:1"), Some("sqlite:///s.db")), @"`ferry.toml`: stage `sqlite:///s.db` is a database; the cluster reads Parquet: give a folder (file://) or an object store (s3://)");
    }
}
