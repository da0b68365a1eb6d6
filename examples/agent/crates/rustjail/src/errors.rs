use thiserror::Error;

/// Errors returned by rustjail.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum JailError {
    #[error("invalid mount spec {spec:?}: {reason}")]
    InvalidMount { spec: String, reason: String },
    #[error("unknown mount option {0:?}")]
    UnknownMountOption(String),
    #[error("invalid capability {0:?}")]
    InvalidCapability(String),
    #[error("invalid cgroup path {path:?}: {reason}")]
    InvalidCgroupPath { path: String, reason: &'static str },
    #[cfg(feature = "seccomp")]
    #[error("invalid seccomp rule {0:?}")]
    InvalidSeccompRule(String),
}

pub type Result<T> = std::result::Result<T, JailError>;
