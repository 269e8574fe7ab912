//! Ballista's codecs, plus ferry's one node: [`ShardWrite`] from client to scheduler (logical),
//! [`ShardWriteExec`] from scheduler to executors (physical). Everything else is Ballista's
//! (functions travel by name: Ballista's codecs keep the traits' defaults for them).

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::DataFusionError;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::error::Result as DfResult;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::TableReference;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::PhysicalExtensionCodec;

use super::shards::{ShardWrite, ShardWriteExec};

/// What starts an encoded [`ShardWrite`] or [`ShardWriteExec`]; the folder's URL follows.
const SHARDS: &[u8] = b"ferry.shards\0";

fn folder(buf: &[u8]) -> DfResult<Option<String>> {
    match buf.strip_prefix(SHARDS) {
        Some(folder) => Ok(Some(
            String::from_utf8(folder.to_vec())
                .map_err(|e| DataFusionError::Internal(format!("a shard folder: {e}")))?,
        )),
        None => Ok(None),
    }
}

fn encoded(folder: &str, buf: &mut Vec<u8>) {
    buf.extend_from_slice(SHARDS);
    buf.extend_from_slice(folder.as_bytes());
}

fn only_input<T: Clone>(inputs: &[T]) -> DfResult<T> {
    match inputs {
        [input] => Ok(input.clone()),
        _ => Err(DataFusionError::Internal(format!("a shard write has one input, not {}", inputs.len()))),
    }
}

#[derive(Debug, Default)]
pub struct LogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], ctx: &SessionContext) -> DfResult<Extension> {
        match folder(buf)? {
            Some(folder) => Ok(Extension { node: Arc::new(ShardWrite::new(only_input(inputs)?, folder)?) }),
            None => self.ballista.try_decode(buf, inputs, ctx),
        }
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> DfResult<()> {
        match node.node.as_any().downcast_ref::<ShardWrite>() {
            Some(write) => {
                encoded(&write.folder, buf);
                Ok(())
            }
            None => self.ballista.try_encode(node, buf),
        }
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &SessionContext,
    ) -> DfResult<Arc<dyn TableProvider>> {
        self.ballista.try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> DfResult<()> {
        self.ballista.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(&self, buf: &[u8], ctx: &SessionContext) -> DfResult<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(&self, buf: &mut Vec<u8>, node: Arc<dyn FileFormatFactory>) -> DfResult<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

#[derive(Debug, Default)]
pub struct PhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        registry: &dyn FunctionRegistry,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        match folder(buf)? {
            Some(folder) => Ok(Arc::new(ShardWriteExec::new(only_input(inputs)?, folder))),
            None => self.ballista.try_decode(buf, inputs, registry),
        }
    }

    fn try_encode(&self, node: Arc<dyn ExecutionPlan>, buf: &mut Vec<u8>) -> DfResult<()> {
        match node.as_any().downcast_ref::<ShardWriteExec>() {
            Some(write) => {
                encoded(&write.folder, buf);
                Ok(())
            }
            None => self.ballista.try_encode(node, buf),
        }
    }
}
