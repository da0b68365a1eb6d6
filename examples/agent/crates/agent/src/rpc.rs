//! RPC dispatch: a few handlers for the generated protocol messages.

use std::collections::BTreeMap;

use agent_macros::rpc_handler;
use anyhow::{anyhow, bail, Result};
use serde::Serialize;

use protocols::{
    AgentDetails, CreateContainerRequest, Envelope, GuestDetailsResponse, MessageKind, ProtocolInfo,
    StartContainerRequest, WaitProcessResponse,
};

use crate::config::AgentConfig;

#[derive(Debug, Serialize)]
pub struct Status {
    pub agent: &'static str,
    pub version: &'static str,
    pub pid: u32,
    pub root: bool,
    pub page_size: usize,
    pub config: AgentConfig,
    pub protocol: ProtocolInfo,
}

pub fn status(config: &AgentConfig) -> Status {
    Status {
        agent: "kata-agent",
        version: env!("CARGO_PKG_VERSION"),
        pid: jail::sys::current_pid(),
        root: jail::sys::is_root(),
        page_size: jail::sys::page_size(),
        config: config.clone(),
        protocol: protocols::protocol_info(),
    }
}

#[derive(Debug, Serialize)]
pub struct Response {
    pub id: u64,
    pub kind: MessageKind,
    pub result: serde_json::Value,
}

#[rpc_handler("CreateContainer")]
fn create_container(config: &AgentConfig, req: CreateContainerRequest) -> Result<serde_json::Value> {
    if req.container_id.is_empty() {
        bail!("container_id is required");
    }
    let spec = req.oci.unwrap_or_default();
    let mut mounts = BTreeMap::new();
    for m in &spec.mounts {
        let parsed = jail::parse_mount_spec(&format!(
            "type={},src={},dst={},options={}",
            m.r#type,
            m.source,
            m.destination,
            m.options.join(":")
        ))?;
        mounts.insert(parsed.destination.clone(), parsed.to_string());
    }
    let cgroup = jail::CgroupPath::new(&format!("{}/{}", config.cgroup_root, req.container_id))?;
    Ok(serde_json::json!({
        "container_id": req.container_id,
        "cgroup": cgroup,
        "mounts": mounts,
    }))
}

#[rpc_handler("StartContainer")]
fn start_container(req: StartContainerRequest) -> Result<serde_json::Value> {
    Ok(serde_json::json!({ "started": req.container_id }))
}

#[rpc_handler("WaitProcess")]
fn wait_process() -> Result<serde_json::Value> {
    Ok(serde_json::to_value(WaitProcessResponse { status: 0 })?)
}

#[rpc_handler("GetGuestDetails")]
fn guest_details() -> Result<serde_json::Value> {
    Ok(serde_json::to_value(GuestDetailsResponse {
        mem_block_size_bytes: 128 << 20,
        agent_details: Some(AgentDetails {
            version: env!("CARGO_PKG_VERSION").to_string(),
            init_daemon: true,
            device_handlers: vec!["blk".into(), "scsi".into(), "vfio".into()],
            storage_handlers: vec!["virtio-fs".into(), "ephemeral".into(), "local".into()],
            supports_seccomp: jail::SECCOMP_SUPPORTED,
        }),
        support_mem_hotplug_probe: false,
    })?)
}

/// Dispatches one request envelope.
pub fn handle(config: &AgentConfig, env: &Envelope) -> Result<Response> {
    log::info!("request {} #{}", env.kind, env.id);
    let result = match env.kind {
        MessageKind::CreateContainer => create_container(config, env.decode()?)?,
        MessageKind::StartContainer => start_container(env.decode()?)?,
        MessageKind::WaitProcess => wait_process()?,
        MessageKind::GetGuestDetails => guest_details()?,
        other => return Err(anyhow!("{} is not implemented", other)),
    };
    Ok(Response {
        id: env.id,
        kind: env.kind,
        result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_constants_come_from_the_macro() {
        assert_eq!(CREATE_CONTAINER_RPC, "CreateContainer");
        assert_eq!(START_CONTAINER_RPC, "StartContainer");
        assert_eq!(protocols::message_by_name(WAIT_PROCESS_RPC), Some(MessageKind::WaitProcess));
        assert_eq!(protocols::message_by_name(GUEST_DETAILS_RPC), Some(MessageKind::GetGuestDetails));
    }

    #[test]
    fn create_container_builds_cgroup_path() {
        let mut spec = protocols::Spec::default();
        spec.mounts.push(protocols::Mount {
            destination: "/etc/hosts".into(),
            source: "/run/kata/hosts".into(),
            r#type: "bind".into(),
            options: vec!["ro".into()],
        });
        let req = CreateContainerRequest {
            container_id: "c1".into(),
            oci: Some(spec),
            ..Default::default()
        };
        let env = Envelope::new(MessageKind::CreateContainer, 9, &req).unwrap();
        let resp = handle(&AgentConfig::default(), &env).unwrap();
        assert_eq!(resp.id, 9);
        assert_eq!(resp.result["cgroup"], "/kata/c1");
        assert_eq!(resp.result["mounts"].as_object().unwrap().len(), 1);
    }

    #[test]
    fn unimplemented_messages_fail() {
        let env = Envelope::new(MessageKind::PauseContainer, 1, &()).unwrap();
        assert!(handle(&AgentConfig::default(), &env).is_err());
    }
}
