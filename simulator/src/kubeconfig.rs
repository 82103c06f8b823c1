//! A kubeconfig pointing at the simulator: one cluster, user and context, all named
//! "simulated". JSON is valid YAML, so kubectl and kube read it as is.

use serde_json::json;

/// Kubeconfig text (JSON) for the API server at `server_url`, with one context
/// "simulated" and no credentials.
pub fn kubeconfig(server_url: &str) -> String {
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "simulated", "cluster": {"server": server_url}}],
        "users": [{"name": "simulated", "user": {}}],
        "contexts": [{
            "name": "simulated",
            "context": {"cluster": "simulated", "user": "simulated", "namespace": "default"}
        }],
        "current-context": "simulated",
        "preferences": {}
    });
    let mut text = serde_json::to_string_pretty(&config).expect("a JSON value always serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_one_context() {
        let config: serde_json::Value =
            serde_json::from_str(&kubeconfig("http://127.0.0.1:1")).unwrap();
        assert_eq!(config["current-context"], "simulated");
        assert_eq!(
            config["clusters"][0]["cluster"]["server"],
            "http://127.0.0.1:1"
        );
    }
}
