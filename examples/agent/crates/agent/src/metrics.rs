//! Prometheus metrics, registered once like the real agent's `metrics.rs`.

use lazy_static::lazy_static;
use prometheus::{IntCounterVec, Opts, Registry};

lazy_static! {
    static ref REGISTRY: Registry =
        Registry::new_custom(Some("kata_agent".into()), None).expect("metrics registry");
    static ref REQUESTS: IntCounterVec = {
        let opts = Opts::new("requests_total", "RPC requests handled");
        let counter = IntCounterVec::new(opts, &["command"]).expect("requests counter");
        REGISTRY
            .register(Box::new(counter.clone()))
            .expect("register requests counter");
        counter
    };
}

/// Counts one handled command.
pub fn count(command: &str) {
    REQUESTS.with_label_values(&[command]).inc();
}

/// Number of metric families registered.
#[cfg(test)]
pub fn families() -> usize {
    REGISTRY.gather().len()
}
