//! kata-agent: a toy version of the Kata Containers guest agent.
//!
//! Run without arguments it prints one deterministic status line.

mod config;
mod logger;
mod metrics;
mod rpc;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::config::AgentConfig;

const GREETING: &str = "ready";

const NAME: &str = "kata-agent";
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Parser)]
#[command(name = NAME, version, about = "Toy Kata Containers guest agent")]
struct Cli {
    /// Print version details as JSON and exit.
    #[arg(long)]
    version_info: bool,

    /// Agent configuration file (JSON).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Log level written to stderr.
    #[arg(long, value_enum, default_value_t = LogLevel::Warn)]
    log_level: LogLevel,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl From<LogLevel> for log::LevelFilter {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the agent status as JSON.
    Status {
        /// Pretty-print the JSON.
        #[arg(long)]
        pretty: bool,
    },
    /// Validate the configuration (and optional mount specs).
    Check {
        /// Extra mount specs to validate, e.g. `type=bind,src=/a,dst=/b`.
        #[arg(long = "mount", value_name = "SPEC")]
        mounts: Vec<String>,
    },
    /// Handle one JSON request envelope and print the response.
    Handle {
        /// The request, e.g. `{"kind":"StartContainer","id":1,"payload":{"container_id":"c1"}}`.
        request: String,
    },
}

#[derive(Debug, Serialize)]
struct VersionInfo {
    name: &'static str,
    version: &'static str,
    greeting: &'static str,
    protocol_version: u32,
    messages: usize,
    features: Vec<&'static str>,
    seccomp: bool,
}

fn version_info() -> VersionInfo {
    VersionInfo {
        name: NAME,
        version: VERSION,
        greeting: GREETING,
        protocol_version: protocols::PROTOCOL_VERSION,
        messages: protocols::message_count(),
        features: jail::enabled_features(),
        seccomp: jail::SECCOMP_SUPPORTED,
    }
}

/// The line printed when the agent runs without arguments.
fn banner() -> String {
    format!(
        "{} {}: {} (protocol v{})",
        NAME,
        VERSION,
        GREETING,
        protocols::PROTOCOL_VERSION
    )
}

fn load_config(path: Option<&PathBuf>) -> Result<AgentConfig> {
    match path {
        Some(path) => AgentConfig::from_file(path)
            .with_context(|| format!("loading config {}", path.display())),
        None => Ok(AgentConfig::default()),
    }
}

fn run(cli: Cli) -> Result<()> {
    logger::init(cli.log_level.into());
    log::info!("starting {} {}", NAME, VERSION);

    if cli.version_info {
        println!("{}", serde_json::to_string_pretty(&version_info())?);
        return Ok(());
    }

    let config = load_config(cli.config.as_ref())?;
    log::debug!("config: {:?}", config);

    match cli.command {
        None => println!("{}", banner()),
        Some(Command::Status { pretty }) => {
            let status = rpc::status(&config);
            let json = if pretty {
                serde_json::to_string_pretty(&status)?
            } else {
                serde_json::to_string(&status)?
            };
            println!("{}", json);
        }
        Some(Command::Check { mounts }) => {
            let report = config.check(&mounts)?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Some(Command::Handle { request }) => {
            metrics::count("handle");
            let envelope = protocols::Envelope::from_json(&request).context("parsing request")?;
            let response = rpc::handle(&config, &envelope)?;
            println!("{}", serde_json::to_string(&response)?);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    // The real agent serves its RPCs from a tokio runtime; so does this one.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("{}: error: starting the runtime: {}", NAME, err);
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(async { run(Cli::parse()) }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}: error: {:#}", NAME, err);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn banner_mentions_greeting_and_protocol() {
        let line = banner();
        assert!(line.starts_with("kata-agent 3.2.1: "));
        assert!(line.contains(GREETING));
        assert!(line.ends_with(&format!("(protocol v{})", protocols::PROTOCOL_VERSION)));
    }

    #[test]
    fn metrics_register_once() {
        metrics::count("test");
        assert_eq!(metrics::families(), 1);
    }

    #[test]
    fn version_info_serialises() {
        let json = serde_json::to_value(version_info()).unwrap();
        assert_eq!(json["version"], VERSION);
        assert_eq!(json["protocol_version"], protocols::PROTOCOL_VERSION);
    }
}
