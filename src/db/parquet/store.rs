//! Object stores for Parquet locations: local directories, `memory://` (tests), and the cloud
//! stores object_store knows, with credentials from the environment as object_store reads them.

use std::sync::{Arc, OnceLock};

use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::ObjectStore;

use crate::connection::mask_url;
use crate::error::{FerryError, Result};

/// The store behind `url` and the path of `url` inside it.
pub fn object_store(url: &url::Url) -> Result<(Arc<dyn ObjectStore>, StorePath)> {
    let error = |message: String| FerryError::Connection { url: mask_url(url), message };
    match url.scheme() {
        "file" => {
            let path = url.to_file_path().map_err(|_| error("not a local path".into()))?;
            std::fs::create_dir_all(&path).map_err(|e| error(format!("cannot create the directory: {e}")))?;
            let store = object_store::local::LocalFileSystem::new();
            let prefix = StorePath::from_filesystem_path(&path).map_err(|e| error(e.to_string()))?;
            Ok((Arc::new(store), prefix))
        }
        "memory" => {
            // One in-memory store per process, so what one run writes the next can read.
            static MEMORY: OnceLock<Arc<InMemory>> = OnceLock::new();
            let store = MEMORY.get_or_init(|| Arc::new(InMemory::new())).clone();
            Ok((store, StorePath::from(url.path().trim_matches('/'))))
        }
        "s3" | "s3a" => {
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .build()
                .map_err(|e| error(e.to_string()))?;
            Ok((Arc::new(store), StorePath::from(url.path().trim_matches('/'))))
        }
        _ => {
            let (store, path) = object_store::parse_url(url)
                .map_err(|e| error(format!("{e}; this build of ferry reads file://, memory:// and s3:// locations")))?;
            Ok((Arc::from(store), path))
        }
    }
}

/// The URL DataFusion registers the store under: scheme and authority only.
pub fn store_root(url: &url::Url) -> url::Url {
    let mut root = url.clone();
    root.set_path("/");
    root.set_query(None);
    root
}
