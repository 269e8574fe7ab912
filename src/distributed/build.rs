//! The build handshake: every query a ferry client sends carries its build (`ferry.build`, a
//! session setting Ballista passes along), and ferry's scheduler refuses a plan from another
//! build by name, instead of failing somewhere in decoding it (plans are DataFusion protobuf,
//! which changes between versions).

use datafusion::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionConfig;

/// This build: ferry's version and the Ballista it embeds.
pub fn this_build() -> String {
    format!("ferry {} with Ballista {}", env!("CARGO_PKG_VERSION"), ballista_core::BALLISTA_VERSION)
}

/// The build of ferry that made a plan: `ferry <version> with Ballista <version>`; empty from a
/// client that is not ferry. Written by hand rather than with DataFusion's `extensions_options!`,
/// whose entries leave the prefix out, so that Ballista would send `build` instead of `ferry.build`.
#[derive(Clone, Debug, Default)]
pub struct FerryBuild {
    pub build: String,
}

impl ConfigExtension for FerryBuild {
    const PREFIX: &'static str = "ferry";
}

impl ExtensionOptions for FerryBuild {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::error::Result<()> {
        match key {
            "build" => {
                self.build = value.to_string();
                Ok(())
            }
            other => Err(DataFusionError::Configuration(format!("no setting ferry.{other}"))),
        }
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        vec![ConfigEntry {
            key: "ferry.build".into(),
            value: Some(self.build.clone()),
            description: "the ferry build that made the plan",
        }]
    }
}

/// A client's settings, naming this build.
pub fn stamped(config: SessionConfig) -> SessionConfig {
    config.with_option_extension(FerryBuild { build: this_build() })
}

/// The scheduler's settings before a client's are applied: able to hold `ferry.build`.
pub fn receiving(config: SessionConfig) -> SessionConfig {
    config.with_option_extension(FerryBuild::default())
}

/// Whether a plan with these settings comes from this very build.
pub fn check(config: &SessionConfig) -> Result<(), DataFusionError> {
    let theirs = config.options().extensions.get::<FerryBuild>().map(|b| b.build.clone()).unwrap_or_default();
    let ours = this_build();
    if theirs == ours {
        return Ok(());
    }
    let sender = if theirs.is_empty() { "a client that is not ferry".to_string() } else { theirs };
    Err(DataFusionError::Plan(format!(
        "this cluster runs {ours} and refuses a plan from {sender}: run the same ferry build on the client, the scheduler and the executors"
    )))
}
