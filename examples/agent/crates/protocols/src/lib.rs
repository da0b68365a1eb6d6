//! Agent protocol definitions.
//!
//! The message table and `PROTOCOL_VERSION` are generated at build time by
//! `build.rs` from `messages.txt`; the request/response payloads are plain
//! serde types serialised as JSON.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

include!(concat!(env!("OUT_DIR"), "/generated.rs"));

const _: () = assert!(PROTOCOL_VERSION > 0, "messages.txt: version must be positive");

pub mod types;

pub use types::*;

/// A framed request: message kind, request id and JSON payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub kind: MessageKind,
    pub id: u64,
    #[serde(default)]
    pub payload: serde_json::Value,
}

impl Envelope {
    pub fn new<T: Serialize>(kind: MessageKind, id: u64, payload: &T) -> serde_json::Result<Self> {
        Ok(Envelope {
            kind,
            id,
            payload: serde_json::to_value(payload)?,
        })
    }

    /// Decodes the payload into the request type `T`.
    pub fn decode<T: for<'de> Deserialize<'de>>(&self) -> serde_json::Result<T> {
        T::deserialize(&self.payload)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("envelope serialises")
    }

    pub fn from_json(s: &str) -> serde_json::Result<Self> {
        serde_json::from_str(s)
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Number of messages in the generated table.
pub fn message_count() -> usize {
    MESSAGE_TABLE.len()
}

/// Looks a message up by its name.
pub fn message_by_name(name: &str) -> Option<MessageKind> {
    MESSAGE_TABLE
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, kind)| *kind)
}

/// A summary of the protocol, suitable for `kata-agent status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolInfo {
    pub version: u32,
    pub messages: BTreeMap<u32, String>,
}

pub fn protocol_info() -> ProtocolInfo {
    ProtocolInfo {
        version: PROTOCOL_VERSION,
        messages: MESSAGE_TABLE
            .iter()
            .map(|(name, id, _)| (*id, (*name).to_string()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_table_is_consistent() {
        assert!(message_count() >= 10);
        for (name, id, kind) in MESSAGE_TABLE {
            assert_eq!(kind.name(), *name);
            assert_eq!(MessageKind::from_id(*id), Some(*kind));
            assert_eq!(*kind as u32, *id);
            assert_eq!(message_by_name(name), Some(*kind));
        }
        assert_eq!(MessageKind::from_id(0), None);
    }

    #[test]
    fn envelope_round_trips() {
        let req = CreateContainerRequest {
            container_id: "c1".into(),
            exec_id: "e1".into(),
            oci: Some(Spec::default()),
            ..Default::default()
        };
        let env = Envelope::new(MessageKind::CreateContainer, 42, &req).unwrap();
        let back = Envelope::from_json(&env.to_json()).unwrap();
        assert_eq!(back, env);
        let decoded: CreateContainerRequest = back.decode().unwrap();
        assert_eq!(decoded, req);
    }
}
