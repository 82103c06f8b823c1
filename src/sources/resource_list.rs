//! The `cpu` and `memory` of the resource lists the watches decode (a container's
//! requests and limits, a node's capacity and allocatable), parsed to base units.

use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;

use crate::quantity;
use crate::telemetry::Throttle;

/// The `cpu` and `memory` of a Kubernetes resource list (a container's requests or
/// limits, a node's capacity or allocatable) as written; the other resources are skipped.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CpuMemory {
    pub cpu: Option<String>,
    pub memory: Option<String>,
}

/// Parses a quantity from an object's spec or status. One Kubernetes accepted cannot
/// fail, but a bad one is logged (at most once a minute) and left out, never guessed at.
pub fn parse_or_skip(object: &str, what: &str, text: &Option<String>) -> Option<f64> {
    static WARNINGS: OnceLock<Throttle> = OnceLock::new();
    let text = text.as_deref()?;
    match quantity::parse(text) {
        Ok(value) => Some(value),
        Err(error) => {
            let throttle = WARNINGS.get_or_init(|| Throttle::new(Duration::from_secs(60)));
            if let Some(suppressed) = throttle.admit() {
                tracing::warn!(object, what, quantity = text, %error, suppressed,
                    "skipping an invalid quantity");
            }
            None
        }
    }
}
