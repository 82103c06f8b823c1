//! Credentials never reach the logs, at any level (tokens, client keys, proxy
//! passwords), and kubeconfig exec plugins work as kube supports them.

#[allow(dead_code)]
#[path = "kubeconfig_matrix/proxy.rs"]
mod proxy;
mod support;

use simulator::MetricsApiVersion;
use support::{parse_exposition, value, wait_until_ok, Process, TlsApiServer};

/// A kubeconfig whose only user authenticates with `user` (a kubeconfig `user` object).
fn write_kubeconfig(
    dir: &std::path::Path,
    server: &TlsApiServer,
    user: serde_json::Value,
) -> String {
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &server.ca_pem).unwrap();
    let kubeconfig = serde_json::json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "only",
        "clusters": [{"name": "c", "cluster": {"server": server.url, "certificate-authority": ca}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "only", "context": {"cluster": "c", "user": "u"}}],
    });
    let path = dir.join("kubeconfig");
    std::fs::write(&path, kubeconfig.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn scrape_up(address: std::net::SocketAddr) -> Option<f64> {
    let text = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    value(&parse_exposition(&text), "kube_metrics_server_up", &[])
}

#[tokio::test(flavor = "multi_thread")]
async fn no_token_or_key_in_trace_logs() {
    use base64::Engine as _;
    let server = TlsApiServer::start(
        support::small_fixture(&[("default", "one")]),
        MetricsApiVersion::V1beta1,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    // A client certificate and key beside the token: loaded, never to be printed.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["client".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let key_pem = key.serialize_pem();
    let encode = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
    let user = serde_json::json!({
        "token": server.token,
        "client-certificate-data": encode(&cert.pem()),
        "client-key-data": encode(&key_pem),
    });
    let kubeconfig = write_kubeconfig(dir.path(), &server, user);
    let (exporter, address) =
        Process::exporter(&["--kubeconfig", &kubeconfig, "--log.level", "trace"], &[]);
    wait_until_ok(&format!("http://{address}/readyz")).await;
    assert_eq!(scrape_up(address).await, Some(1.0));

    let log = exporter.log_text();
    assert!(log.lines().count() > 20, "trace logging is on: {log}");
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for secret in [server.token.as_str(), &encode(&key_pem), &key_body[..40]] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
    assert!(
        !log.contains("Bearer "),
        "an Authorization header reached the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_plugins_supply_the_token() {
    let server = TlsApiServer::start(
        support::small_fixture(&[("default", "one")]),
        MetricsApiVersion::V1beta1,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let credential = serde_json::json!({
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": server.token},
    });
    let plugin = dir.path().join("credential.json");
    std::fs::write(&plugin, credential.to_string()).unwrap();
    let user = serde_json::json!({
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "cat",
            "args": [plugin],
            "interactiveMode": "Never",
        }
    });
    let kubeconfig = write_kubeconfig(dir.path(), &server, user);
    let (exporter, address) =
        Process::exporter(&["--kubeconfig", &kubeconfig, "--log.level", "trace"], &[]);
    wait_until_ok(&format!("http://{address}/readyz")).await;
    assert_eq!(scrape_up(address).await, Some(1.0));
    assert!(
        !exporter.log_text().contains(&server.token),
        "the exec token reached the log"
    );
}

const PROXY_USER: &str = "proxy-user";
const PROXY_PASSWORD: &str = "proxy-password-7d1e0b";

/// A kubeconfig reaching `server` as `https://kube.secrets.invalid:PORT`, a name only
/// the proxy resolves (a loopback server would never be proxied).
fn kubeconfig_behind_proxy(dir: &std::path::Path, server: &TlsApiServer) -> String {
    let port = server.url.rsplit(':').next().unwrap().trim_end_matches('/');
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &server.ca_pem).unwrap();
    let kubeconfig = serde_json::json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "only",
        "clusters": [{"name": "c", "cluster": {
            "server": format!("https://kube.secrets.invalid:{port}"),
            "certificate-authority": ca,
            "tls-server-name": "localhost",
        }}],
        "users": [{"name": "u", "user": {"token": server.token}}],
        "contexts": [{"name": "only", "context": {"cluster": "c", "user": "u"}}],
    });
    let path = dir.join("kubeconfig");
    std::fs::write(&path, kubeconfig.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn login_proxy() -> proxy::Proxy {
    let options = proxy::Options {
        names: proxy::Names::default().with("kube.secrets.invalid"),
        remote: false,
        login: Some((PROXY_USER.to_owned(), PROXY_PASSWORD.to_owned())),
    };
    proxy::Proxy::start(proxy::Kind::Connect, options).await
}

/// The proxy's password and the `Proxy-Authorization` value made from it.
fn proxy_secrets() -> [String; 2] {
    use base64::Engine as _;
    let login = format!("{PROXY_USER}:{PROXY_PASSWORD}");
    [
        PROXY_PASSWORD.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(login),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn no_proxy_password_in_trace_logs() {
    let server = TlsApiServer::start(
        support::small_fixture(&[("default", "one")]),
        MetricsApiVersion::V1beta1,
    )
    .await;
    let proxy = login_proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_behind_proxy(dir.path(), &server);
    let https_proxy = format!(
        "http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{}",
        proxy.port
    );
    let (exporter, address) = Process::exporter(
        &["--kubeconfig", &kubeconfig, "--log.level", "trace"],
        &[("HTTPS_PROXY", &https_proxy)],
    );
    wait_until_ok(&format!("http://{address}/readyz")).await;
    assert_eq!(scrape_up(address).await, Some(1.0));
    assert!(
        proxy.tunnels().iter().any(|tunnel| tunnel.opened),
        "the exporter went through the proxy"
    );
    let log = exporter.log_text();
    assert!(
        log.contains("xxxxx@127.0.0.1"),
        "the proxy is named, redacted: {log}"
    );
    for secret in proxy_secrets() {
        assert!(!log.contains(&secret), "the proxy password reached the log");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_proxy_login_is_reported_without_the_password() {
    let server = TlsApiServer::start(
        support::small_fixture(&[("default", "one")]),
        MetricsApiVersion::V1beta1,
    )
    .await;
    let proxy = login_proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_behind_proxy(dir.path(), &server);
    let wrong = "proxy-password-wrong-5c";
    let https_proxy = format!("http://{PROXY_USER}:{wrong}@127.0.0.1:{}", proxy.port);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_metrics-server-prom"))
            .args([
                "snapshot",
                "--log.level",
                "trace",
                "--metrics.timeout",
                "5s",
            ])
            .args(["--kubeconfig", &kubeconfig])
            .env_remove("KUBECONFIG")
            .env("HTTPS_PROXY", https_proxy)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("proxy requires a login"), "{said}");
    assert!(
        said.contains(&format!("{PROXY_USER}:xxxxx@127.0.0.1")),
        "{said}"
    );
    assert!(
        !said.contains(wrong),
        "the proxy password reached the output"
    );
}
