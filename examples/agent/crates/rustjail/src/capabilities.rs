//! Linux capability names (`CAP_SYS_ADMIN`, ...).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::errors::{JailError, Result};

macro_rules! capabilities {
    ($($name:ident = $value:expr),* $(,)?) => {
        /// A Linux capability.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Capability {
            $($name = $value),*
        }

        impl Capability {
            /// Every known capability, in numeric order.
            pub const ALL: &'static [Capability] = &[$(Capability::$name),*];

            /// The kernel's name, e.g. `CAP_CHOWN`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Capability::$name => concat!("CAP_", stringify!($name))),*
                }
            }
        }
    };
}

capabilities! {
    CHOWN = 0, DAC_OVERRIDE = 1, DAC_READ_SEARCH = 2, FOWNER = 3, FSETID = 4,
    KILL = 5, SETGID = 6, SETUID = 7, SETPCAP = 8, LINUX_IMMUTABLE = 9,
    NET_BIND_SERVICE = 10, NET_BROADCAST = 11, NET_ADMIN = 12, NET_RAW = 13,
    IPC_LOCK = 14, IPC_OWNER = 15, SYS_MODULE = 16, SYS_RAWIO = 17,
    SYS_CHROOT = 18, SYS_PTRACE = 19, SYS_PACCT = 20, SYS_ADMIN = 21,
    SYS_BOOT = 22, SYS_NICE = 23, SYS_RESOURCE = 24, SYS_TIME = 25,
    SYS_TTY_CONFIG = 26, MKNOD = 27, LEASE = 28, AUDIT_WRITE = 29,
    AUDIT_CONTROL = 30, SETFCAP = 31, MAC_OVERRIDE = 32, MAC_ADMIN = 33,
    SYSLOG = 34, WAKE_ALARM = 35, BLOCK_SUSPEND = 36, AUDIT_READ = 37,
    PERFMON = 38, BPF = 39, CHECKPOINT_RESTORE = 40,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn cap_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(?i:cap_)?([A-Za-z_]+)$").unwrap())
}

impl FromStr for Capability {
    type Err = JailError;

    fn from_str(s: &str) -> Result<Self> {
        let caps = cap_re()
            .captures(s.trim())
            .ok_or_else(|| JailError::InvalidCapability(s.to_string()))?;
        let wanted = format!("CAP_{}", caps[1].to_ascii_uppercase());
        Capability::ALL
            .iter()
            .copied()
            .find(|c| c.name() == wanted)
            .ok_or_else(|| JailError::InvalidCapability(s.to_string()))
    }
}

/// An ordered set of capabilities.
pub type CapabilitySet = BTreeSet<Capability>;

/// Parses a comma- or whitespace-separated capability list.
pub fn parse_capabilities(list: &str) -> Result<CapabilitySet> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}
