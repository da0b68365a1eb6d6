//! A dependency-free micro-benchmark (`harness = false`).
//! Run with `cargo bench -p rustjail`.

use std::hint::black_box;
use std::time::Instant;

use rustjail::{parse_capabilities, parse_mount_spec};

fn bench<F: FnMut()>(name: &str, iterations: u32, mut f: F) {
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let per_iter = start.elapsed() / iterations;
    println!("{:<24} {:>10?}/iter ({} iterations)", name, per_iter, iterations);
}

fn main() {
    // `cargo test --benches` passes `--bench`-less args; keep runs short then.
    let iterations = if std::env::args().any(|a| a == "--bench") { 100_000 } else { 100 };

    bench("parse_mount_spec", iterations, || {
        black_box(parse_mount_spec(black_box("type=bind,src=/a/b,dst=/c/d,options=ro:rbind:rslave")).unwrap());
    });
    bench("parse_capabilities", iterations, || {
        black_box(parse_capabilities(black_box("CAP_SYS_ADMIN,CAP_NET_RAW,chown,kill")).unwrap());
    });
}
