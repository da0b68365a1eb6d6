//! Integration test without libtest (`harness = false`): a plain `main`
//! that panics (non-zero exit) on failure.

use rustjail::{parse_capabilities, parse_mount_spec, Capability};

fn main() {
    let mut checks = 0;

    let m = parse_mount_spec("type=tmpfs,src=tmpfs,dst=/dev/shm,options=nosuid:nodev:size=65536k").unwrap();
    assert_eq!(m.fstype, "tmpfs");
    assert_eq!(m.destination, "/dev/shm");
    assert_eq!(m.extra.len(), 3);
    checks += 1;

    let all: Vec<String> = Capability::ALL.iter().map(|c| c.to_string()).collect();
    let parsed = parse_capabilities(&all.join(",")).unwrap();
    assert_eq!(parsed.len(), Capability::ALL.len());
    checks += 1;

    assert!(rustjail::sys::page_size().is_power_of_two());
    checks += 1;

    println!("no_harness: {} passed, 0 failed", checks);
}
