//! Cgroup path validation.

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::errors::{JailError, Result};

/// A validated, normalised cgroup path such as `/kata/sandbox-1/ctr`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CgroupPath(String);

fn component_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$").unwrap())
}

impl CgroupPath {
    pub fn new(path: &str) -> Result<Self> {
        if !path.starts_with('/') {
            return Err(JailError::InvalidCgroupPath {
                path: path.to_string(),
                reason: "must be absolute",
            });
        }
        let mut parts = Vec::new();
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            if comp == "." || comp == ".." || !component_re().is_match(comp) {
                return Err(JailError::InvalidCgroupPath {
                    path: path.to_string(),
                    reason: "bad component",
                });
            }
            parts.push(comp);
        }
        Ok(CgroupPath(format!("/{}", parts.join("/"))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn depth(&self) -> usize {
        self.0.split('/').filter(|c| !c.is_empty()).count()
    }
}

impl TryFrom<String> for CgroupPath {
    type Error = JailError;

    fn try_from(value: String) -> Result<Self> {
        CgroupPath::new(&value)
    }
}

impl From<CgroupPath> for String {
    fn from(value: CgroupPath) -> Self {
        value.0
    }
}

impl fmt::Display for CgroupPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
