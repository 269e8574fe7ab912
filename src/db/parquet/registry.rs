//! Object stores made on demand from the URL and this machine's environment (S3 keys and region
//! from `AWS_*`), so that a machine that only receives a plan naming `s3://bucket/...` (an
//! executor of a cluster) reads it with its own credentials: none travel with the plan.

use std::sync::Arc;

use datafusion::common::DataFusionError;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;

use super::store::{object_store, store_root};

#[derive(Debug, Default)]
pub struct EnvironmentStores {
    known: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for EnvironmentStores {
    fn register_store(&self, url: &url::Url, store: Arc<dyn ObjectStore>) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn get_store(&self, url: &url::Url) -> datafusion::common::Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        let root = store_root(url);
        let (store, _) = object_store(&root).map_err(|e| DataFusionError::External(Box::new(e)))?;
        self.known.register_store(&root, store.clone());
        Ok(store)
    }
}
