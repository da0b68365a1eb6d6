//! Agent configuration, read from a JSON file.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use agent_macros::Describe;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use jail::{CapabilitySet, CgroupPath, MountSpec};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Describe)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    pub debug_console: bool,
    pub dev_mode: bool,
    pub log_level: String,
    pub hotplug_timeout_secs: u64,
    pub server_addr: String,
    pub cgroup_root: String,
    pub default_capabilities: String,
    pub shared_mounts: Vec<String>,
    pub unified_cgroup_hierarchy: bool,
    pub guest_components: GuestComponents,
    pub env: BTreeMap<String, String>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            debug_console: false,
            dev_mode: false,
            log_level: "warn".to_string(),
            hotplug_timeout_secs: 3,
            server_addr: "vsock://-1:1024".to_string(),
            cgroup_root: "/kata".to_string(),
            default_capabilities: "CAP_CHOWN,CAP_KILL,CAP_SETUID,CAP_SETGID,CAP_NET_BIND_SERVICE".to_string(),
            shared_mounts: Vec::new(),
            unified_cgroup_hierarchy: true,
            guest_components: GuestComponents::default(),
            env: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Describe)]
#[serde(rename_all = "kebab-case")]
pub enum GuestComponents {
    None,
    #[default]
    Resource,
    ConfidentialDataHub,
}

/// Result of `kata-agent check`.
#[derive(Debug, Serialize, Describe)]
pub struct CheckReport {
    pub ok: bool,
    pub cgroup_root: CgroupPath,
    pub capabilities: CapabilitySet,
    pub mounts: Vec<MountSpec>,
    pub fields_checked: usize,
}

impl AgentConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path)?;
        Ok(serde_json::from_str(&text)?)
    }

    pub fn capabilities(&self) -> Result<CapabilitySet> {
        Ok(jail::parse_capabilities(&self.default_capabilities)?)
    }

    /// Validates the config plus any extra mount specs.
    pub fn check(&self, extra_mounts: &[String]) -> Result<CheckReport> {
        if self.hotplug_timeout_secs == 0 {
            bail!("hotplug_timeout_secs must be positive");
        }
        let cgroup_root = CgroupPath::new(&self.cgroup_root)?;
        let capabilities = self.capabilities()?;
        let mounts = self
            .shared_mounts
            .iter()
            .chain(extra_mounts)
            .map(|spec| jail::parse_mount_spec(spec))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(CheckReport {
            ok: true,
            cgroup_root,
            capabilities,
            mounts,
            fields_checked: AgentConfig::field_names().len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_derive_lists_fields() {
        assert_eq!(AgentConfig::TYPE_NAME, "AgentConfig");
        assert!(AgentConfig::field_names().contains(&"cgroup_root"));
        assert_eq!(GuestComponents::field_names(), &["None", "Resource", "ConfidentialDataHub"]);
        assert_eq!(CheckReport::field_names().len(), 5);
    }

    #[test]
    fn default_config_checks() {
        let report = AgentConfig::default().check(&["src=/a,dst=/b".to_string()]).unwrap();
        assert!(report.ok);
        assert_eq!(report.mounts.len(), 1);
        assert_eq!(report.capabilities.len(), 5);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<AgentConfig>(r#"{"bogus": 1}"#).is_err());
        let cfg: AgentConfig = serde_json::from_str(r#"{"dev_mode": true}"#).unwrap();
        assert!(cfg.dev_mode);
        assert_eq!(cfg.cgroup_root, "/kata");
    }
}
