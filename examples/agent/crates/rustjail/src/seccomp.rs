//! A tiny seccomp profile model (only with the `seccomp` feature).

use serde::{Deserialize, Serialize};

use crate::errors::{JailError, Result};

/// What to do when a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    ScmpActAllow,
    ScmpActErrno,
    ScmpActKill,
    ScmpActLog,
}

/// One `syscall=ACTION` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub syscall: String,
    pub action: Action,
}

/// Parses rules like `mount=kill,ptrace=errno`.
pub fn parse_rules(s: &str) -> Result<Vec<Rule>> {
    s.split(',')
        .filter(|r| !r.is_empty())
        .map(|r| {
            let (name, action) = r
                .split_once('=')
                .ok_or_else(|| JailError::InvalidSeccompRule(r.to_string()))?;
            let action = match action {
                "allow" => Action::ScmpActAllow,
                "errno" => Action::ScmpActErrno,
                "kill" => Action::ScmpActKill,
                "log" => Action::ScmpActLog,
                _ => return Err(JailError::InvalidSeccompRule(r.to_string())),
            };
            Ok(Rule {
                syscall: name.to_string(),
                action,
            })
        })
        .collect()
}
