//! Container sandboxing helpers, in the spirit of Kata's `rustjail`.
//!
//! Parsing of mount specifications and capability lists, cgroup path
//! validation, and (with the `seccomp` feature) a tiny seccomp profile model.

pub mod capabilities;
pub mod cgroups;
pub mod errors;
pub mod mount;
#[cfg(feature = "seccomp")]
pub mod seccomp;
pub mod sys;

pub use capabilities::{parse_capabilities, Capability, CapabilitySet};
pub use cgroups::CgroupPath;
pub use errors::{JailError, Result};
pub use mount::{parse_mount_spec, MountSpec, Propagation};

/// Names of the optional features this build was compiled with.
pub fn enabled_features() -> Vec<&'static str> {
    let mut features = Vec::new();
    if cfg!(feature = "standard") {
        features.push("standard");
    }
    if cfg!(feature = "seccomp") {
        features.push("seccomp");
    }
    features
}

/// Whether seccomp filtering was compiled in.
pub const SECCOMP_SUPPORTED: bool = cfg!(feature = "seccomp");
