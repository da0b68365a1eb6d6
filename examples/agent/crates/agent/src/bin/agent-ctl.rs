//! agent-ctl: builds request envelopes for kata-agent and lists the protocol.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "agent-ctl", version, about = "Talk to kata-agent (offline)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every protocol message with its id.
    List,
    /// Print a request envelope for MESSAGE with a JSON payload.
    Request {
        message: String,
        #[arg(long, default_value_t = 1)]
        id: u64,
        #[arg(long, default_value = "{}")]
        payload: String,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::List => {
            println!("protocol v{}", protocols::PROTOCOL_VERSION);
            for (name, id, _) in protocols::MESSAGE_TABLE {
                println!("{:>3} {}", id, name);
            }
        }
        Command::Request { message, id, payload } => {
            let Some(kind) = protocols::message_by_name(&message) else {
                bail!("unknown message {:?}", message);
            };
            let payload: serde_json::Value = serde_json::from_str(&payload).context("payload is not JSON")?;
            let env = protocols::Envelope { kind, id, payload };
            println!("{}", env.to_json());
        }
    }
    Ok(())
}
