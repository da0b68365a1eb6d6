//! Mount specifications in the `type=bind,src=/a,dst=/b,options=ro:rbind` form.

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::errors::{JailError, Result};

/// Mount propagation mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    #[default]
    Private,
    Shared,
    Slave,
    Unbindable,
}

/// A parsed mount specification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    pub fstype: String,
    pub source: String,
    pub destination: String,
    pub readonly: bool,
    pub recursive: bool,
    pub propagation: Propagation,
    pub extra: Vec<String>,
}

impl fmt::Display for MountSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} -> {} ({}{})",
            self.fstype,
            self.source,
            self.destination,
            if self.readonly { "ro" } else { "rw" },
            if self.recursive { ",rbind" } else { "" }
        )
    }
}

fn key_value_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(type|src|source|dst|destination|options)=(.*)$").unwrap())
}

fn path_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(/[A-Za-z0-9._@+-]*)+$|^/$").unwrap())
}

fn invalid(spec: &str, reason: impl Into<String>) -> JailError {
    JailError::InvalidMount {
        spec: spec.to_string(),
        reason: reason.into(),
    }
}

/// Parses `type=bind,src=/a,dst=/b,options=ro:rbind`.
pub fn parse_mount_spec(spec: &str) -> Result<MountSpec> {
    let mut mount = MountSpec {
        fstype: "bind".to_string(),
        ..MountSpec::default()
    };
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let caps = key_value_re()
            .captures(part)
            .ok_or_else(|| invalid(spec, format!("unexpected field {:?}", part)))?;
        let value = caps[2].to_string();
        match &caps[1] {
            "type" => mount.fstype = value,
            "src" | "source" => mount.source = value,
            "dst" | "destination" => mount.destination = value,
            "options" => {
                for opt in value.split(':').filter(|o| !o.is_empty()) {
                    match opt {
                        "ro" => mount.readonly = true,
                        "rw" => mount.readonly = false,
                        "rbind" => mount.recursive = true,
                        "bind" => mount.recursive = false,
                        "private" | "rprivate" => mount.propagation = Propagation::Private,
                        "shared" | "rshared" => mount.propagation = Propagation::Shared,
                        "slave" | "rslave" => mount.propagation = Propagation::Slave,
                        "unbindable" | "runbindable" => mount.propagation = Propagation::Unbindable,
                        o if o.starts_with("mode=") || o.starts_with("size=") || o == "nosuid" || o == "nodev" || o == "noexec" => {
                            mount.extra.push(o.to_string())
                        }
                        other => return Err(JailError::UnknownMountOption(other.to_string())),
                    }
                }
            }
            _ => unreachable!("regex only matches known keys"),
        }
    }
    if mount.destination.is_empty() {
        return Err(invalid(spec, "missing destination"));
    }
    if !path_re().is_match(&mount.destination) {
        return Err(invalid(spec, "destination must be an absolute path"));
    }
    if mount.fstype == "bind" && !path_re().is_match(&mount.source) {
        return Err(invalid(spec, "bind source must be an absolute path"));
    }
    Ok(mount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bind_mount() {
        let m = parse_mount_spec("type=bind,src=/a,dst=/b,options=ro:rbind:rshared").unwrap();
        assert_eq!(m.source, "/a");
        assert_eq!(m.destination, "/b");
        assert!(m.readonly && m.recursive);
        assert_eq!(m.propagation, Propagation::Shared);
    }

    #[test]
    fn rejects_relative_destination() {
        assert!(matches!(
            parse_mount_spec("src=/a,dst=b"),
            Err(JailError::InvalidMount { .. })
        ));
    }
}
