//! A table folder's manifest, `_ferry_manifest.json`: the list of the folder's files that make
//! the table now. A publish renames its new files into the folder (not listed yet, so not read),
//! writes the manifest in one `put` (atomic on a local disk and on object stores alike), and only
//! then deletes the files the manifest no longer lists. A crash at any instant leaves the old
//! manifest or the new one, never a mix, and files no manifest lists, which the next publish
//! deletes. ferry's own Parquet source reads the files the manifest lists (every `*.parquet` of a
//! folder without one, as written by other tools); so should other readers that must never see a
//! publish half done.

use std::sync::Arc;

use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};

pub const MANIFEST: &str = "_ferry_manifest.json";
const FORMAT: &str = "ferry-manifest/1";

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// The run that wrote it.
    pub run_id: String,
    /// The table's files, by name within the folder, in order.
    pub files: Vec<String>,
}

/// The folder's manifest, if it has one.
pub async fn read(store: &Arc<dyn ObjectStore>, folder: &StorePath) -> Result<Option<Manifest>, String> {
    match store.get(&folder.child(MANIFEST)).await {
        Ok(found) => {
            let bytes = found.bytes().await.map_err(|e| e.to_string())?;
            let manifest: Manifest = serde_json::from_slice(&bytes)
                .map_err(|e| format!("{MANIFEST} in {folder} cannot be read ({e}); delete it to read every file"))?;
            if manifest.format != FORMAT {
                return Err(format!(
                    "{MANIFEST} in {folder} is of format {}, this ferry reads {FORMAT}",
                    manifest.format
                ));
            }
            Ok(Some(manifest))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(error) => Err(error.to_string()),
    }
}

/// The names of the folder's files that make the table: the manifest's, or every `*.parquet`.
pub async fn table_files(store: &Arc<dyn ObjectStore>, folder: &StorePath) -> Result<Vec<String>, String> {
    if let Some(manifest) = read(store, folder).await? {
        return Ok(manifest.files);
    }
    let mut names: Vec<String> = parquet_files(store, folder).await?;
    names.sort();
    Ok(names)
}

/// The `*.parquet` files directly in the folder (none when it does not exist).
async fn parquet_files(store: &Arc<dyn ObjectStore>, folder: &StorePath) -> Result<Vec<String>, String> {
    let listed = match store.list_with_delimiter(Some(folder)).await {
        Ok(listed) => listed.objects,
        Err(object_store::Error::NotFound { .. }) => Vec::new(),
        Err(error) => return Err(error.to_string()),
    };
    Ok(listed
        .into_iter()
        .filter_map(|m| m.location.filename().map(str::to_string))
        .filter(|name| name.ends_with(".parquet"))
        .collect())
}

/// Publishes the `staged` files into `folder` as `names(index)`, after the files the table
/// keeps (`keep_old`: an append) or instead of them, as described above; then `_SUCCESS`.
pub async fn publish(
    store: &Arc<dyn ObjectStore>,
    folder: &StorePath,
    staged: &[StorePath],
    names: impl Fn(usize) -> String,
    run_id: &str,
    keep_old: bool,
) -> Result<(), String> {
    let mut files = if keep_old { table_files(store, folder).await? } else { Vec::new() };
    for (index, file) in staged.iter().enumerate() {
        let name = names(index);
        store.rename(file, &folder.child(name.as_str())).await.map_err(|e| e.to_string())?;
        files.push(name);
    }
    let manifest = Manifest { format: FORMAT.to_string(), run_id: run_id.to_string(), files };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    store.put(&folder.child(MANIFEST), PutPayload::from(json)).await.map_err(|e| e.to_string())?;
    for stale in parquet_files(store, folder).await?.iter().filter(|name| !manifest.files.contains(name)) {
        store.delete(&folder.child(stale.as_str())).await.map_err(|e| e.to_string())?;
    }
    store
        .put(&folder.child("_SUCCESS"), PutPayload::from(run_id.to_string().into_bytes()))
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}
