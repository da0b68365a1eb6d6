//! Runs the built `kata-agent` binary (via CARGO_BIN_EXE_kata-agent).

use std::process::Command;

fn agent(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kata-agent"))
        .args(args)
        .output()
        .expect("run kata-agent");
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn no_args_prints_banner() {
    let (ok, stdout) = agent(&[]);
    assert!(ok);
    let line = stdout.trim_end();
    assert!(line.starts_with("kata-agent 3.2.1: "), "{:?}", line);
    assert!(line.ends_with(&format!("(protocol v{})", protocols::PROTOCOL_VERSION)), "{:?}", line);
}

#[test]
fn status_is_json() {
    let (ok, stdout) = agent(&["status"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["agent"], "kata-agent");
    assert_eq!(v["protocol"]["version"], protocols::PROTOCOL_VERSION);
}

#[test]
fn handle_round_trip() {
    let (ok, stdout) = agent(&[
        "handle",
        r#"{"kind":"StartContainer","id":3,"payload":{"container_id":"c1"}}"#,
    ]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["result"]["started"], "c1");
}

#[test]
fn bad_mount_fails_check() {
    let (ok, _) = agent(&["check", "--mount", "src=/a,dst=relative"]);
    assert!(!ok);
}
