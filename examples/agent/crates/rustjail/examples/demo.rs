//! `cargo run -p rustjail --example demo -- "type=bind,src=/a,dst=/b,options=ro"`

use std::process::ExitCode;

fn main() -> ExitCode {
    let spec = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "type=bind,src=/run/kata-containers/shared,dst=/run/shared,options=rbind:ro".to_string());
    match rustjail::parse_mount_spec(&spec) {
        Ok(mount) => {
            println!("{}", mount);
            println!("features: {:?}", rustjail::enabled_features());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {}", err);
            ExitCode::FAILURE
        }
    }
}
