//! A Parquet location as a source: each folder under it is a table (a DataFusion `ListingTable`
//! over the folder's `*.parquet` files). Folders starting with `_` (staging, rejects) are not.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::SessionContext;

use super::manifest;
use super::store::{object_store, store_root};
use crate::connection::mask_url;
use crate::error::{FerryError, Result};

/// The tables of a Parquet location: one per folder, by the folder's name.
pub async fn tables(ctx: &SessionContext, url: &url::Url) -> Result<Vec<(String, Arc<dyn TableProvider>)>> {
    let error = |message: String| FerryError::Connection { url: mask_url(url), message };
    let (store, prefix) = object_store(url)?;
    ctx.register_object_store(&store_root(url), store.clone());
    let listing = store.list_with_delimiter(Some(&prefix)).await.map_err(|e| error(e.to_string()))?;
    let mut tables = Vec::new();
    for folder in listing.common_prefixes {
        let Some(name) = folder.filename().map(str::to_string) else { continue };
        if name.starts_with('_') {
            continue;
        }
        let table_url = folder_url(url).join(&format!("{name}/")).map_err(|e| error(e.to_string()))?;
        let table: Arc<dyn TableProvider> = listing_table(ctx, &table_url).await?;
        tables.push((name, table));
    }
    Ok(tables)
}

/// The URL as a folder (with a trailing `/`), so that joining a name goes below it.
fn folder_url(url: &url::Url) -> url::Url {
    let mut folder = url.clone();
    if !folder.path().ends_with('/') {
        folder.set_path(&format!("{}/", folder.path()));
    }
    folder
}

/// A `ListingTable` over the Parquet files of one folder: those its manifest lists, or every
/// `*.parquet` file when it has none.
pub async fn listing_table(ctx: &SessionContext, url: &url::Url) -> Result<Arc<ListingTable>> {
    let error = |message: String| FerryError::Source {
        url: mask_url(url),
        table: url.path_segments().and_then(|mut s| s.nth_back(1)).unwrap_or("").to_string(),
        message,
    };
    let (store, folder) = object_store(url)?;
    let paths = match manifest::read(&store, &folder).await.map_err(error)? {
        None => vec![ListingTableUrl::parse(url.as_str()).map_err(|e| error(e.to_string()))?],
        Some(manifest) => manifest
            .files
            .iter()
            .map(|file| {
                let file = url.join(file).map_err(|e| error(e.to_string()))?;
                ListingTableUrl::parse(file.as_str()).map_err(|e| error(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?,
    };
    // Field metadata written by ferry (a column's source type) tells a PostgreSQL target which
    // type to create; DataFusion drops it unless told otherwise.
    let format = ParquetFormat::default().with_skip_metadata(false);
    let options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(paths)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await
        .map_err(|e| error(e.to_string()))?;
    Ok(Arc::new(ListingTable::try_new(config).map_err(|e| error(e.to_string()))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_folders_below_the_location() {
        for location in ["s3://bucket/stage", "s3://bucket/stage/", "memory:///lake"] {
            let url = url::Url::parse(location).unwrap();
            let table = folder_url(&url).join("users/").unwrap();
            assert!(
                table.as_str().ends_with("/users/") && table.as_str().starts_with(location.trim_end_matches('/')),
                "{table}"
            );
        }
    }
}
