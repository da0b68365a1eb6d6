use rustjail::{parse_capabilities, parse_mount_spec, Capability, CgroupPath, JailError, Propagation};

#[test]
fn mount_spec_round_trips_through_json() {
    let m = parse_mount_spec("type=bind,src=/run/kata,dst=/run/kata,options=rbind:rslave:nosuid").unwrap();
    assert_eq!(m.propagation, Propagation::Slave);
    assert_eq!(m.extra, vec!["nosuid".to_string()]);
    let json = serde_json::to_string(&m).unwrap();
    let back: rustjail::MountSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
}

#[test]
fn unknown_mount_option_is_rejected() {
    assert_eq!(
        parse_mount_spec("src=/a,dst=/b,options=bogus"),
        Err(JailError::UnknownMountOption("bogus".into()))
    );
}

#[test]
fn capabilities_parse_in_any_case() {
    let caps = parse_capabilities("CAP_SYS_ADMIN, net_admin chown").unwrap();
    assert_eq!(caps.len(), 3);
    assert!(caps.contains(&Capability::SYS_ADMIN));
    assert!(caps.contains(&Capability::NET_ADMIN));
    assert!(caps.contains(&Capability::CHOWN));
    assert!(parse_capabilities("CAP_NOPE").is_err());
}

#[test]
fn cgroup_paths_are_normalised() {
    let p = CgroupPath::new("//kata//sandbox-1/ctr").unwrap();
    assert_eq!(p.as_str(), "/kata/sandbox-1/ctr");
    assert_eq!(p.depth(), 3);
    assert!(CgroupPath::new("kata").is_err());
    assert!(CgroupPath::new("/kata/../etc").is_err());
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(json, "\"/kata/sandbox-1/ctr\"");
    assert!(serde_json::from_str::<CgroupPath>("\"/a/..\"").is_err());
}

#[test]
fn system_helpers_are_sane() {
    assert_eq!(rustjail::sys::current_pid(), std::process::id());
    assert!(rustjail::sys::page_size() >= 4096);
}

#[test]
fn default_features() {
    assert!(rustjail::enabled_features().contains(&"standard"));
}

#[cfg(feature = "seccomp")]
#[test]
fn seccomp_rules_parse() {
    let rules = rustjail::seccomp::parse_rules("mount=kill,ptrace=errno").unwrap();
    assert_eq!(rules.len(), 2);
    assert!(rustjail::seccomp::parse_rules("mount").is_err());
}
