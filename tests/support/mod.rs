//! What the integration tests share: running the binary as a process, reading its
//! logs for readiness, a TLS API server with a bearer token in front of the simulator's
//! fixture router, and a small exposition parser to check what a scrape returned.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_server_prom::simulator::{Fixture, MetricsApiVersion};

pub const BINARY: &str = env!("CARGO_BIN_EXE_metrics-server-prom");

/// How long any wait in these tests may take before the test gives up.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A child process that is killed (by its own handle) when dropped.
pub struct Process {
    pub child: Child,
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// The exporter with JSON logs, listening on a free loopback port. Returns once it
    /// has logged its listening address.
    pub fn exporter(args: &[&str], env: &[(&str, &str)]) -> (Process, SocketAddr) {
        let mut command = Command::new(BINARY);
        command
            .args([
                "--web.listen-address",
                "127.0.0.1:0",
                "--log.format",
                "json",
            ])
            .args(args)
            .env_remove("KUBECONFIG")
            .env_remove("KUBE_CONTEXT")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("starting the exporter");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let log_writer = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(address) = listening_address(&line) {
                    let _ = address_tx.send(address);
                }
                log_writer.lock().unwrap().push(line);
            }
        });
        let process = Process { child, log };
        let address = address_rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("exporter did not start; log:\n{}", process.log_text()));
        (process, address)
    }

    /// `metrics-server-prom simulate` on a free port, writing a kubeconfig to `kubeconfig`.
    pub fn simulator(kubeconfig: &Path, extra: &[&str]) -> (Process, String) {
        let mut child = Command::new(BINARY)
            .args([
                "simulate",
                "--listen-address",
                "127.0.0.1:0",
                "--write-kubeconfig",
            ])
            .arg(kubeconfig)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the simulator");
        let stdout = child.stdout.take().unwrap();
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find("listening on http://") {
                    let url = line[at + "listening on ".len()..].trim().to_owned();
                    let _ = url_tx.send(url);
                }
            }
        });
        let url = url_rx
            .recv_timeout(PATIENCE)
            .expect("simulator did not start");
        let process = Process {
            child,
            log: Arc::default(),
        };
        (process, url)
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

fn listening_address(line: &str) -> Option<SocketAddr> {
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    let message = json.get("message")?.as_str()?;
    let rest = message.strip_prefix("listening on http://")?;
    rest.split('/').next()?.parse().ok()
}

/// Polls `url` until it answers 200: the readiness signal the exporter offers.
pub async fn wait_until_ok(url: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(response) = client.get(url).send().await {
            if response.status().is_success() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{url} never answered 200");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One sample of a text-format exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the sample lines of a text or OpenMetrics exposition, unescaping label values.
pub fn parse_exposition(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| parse_sample(line).unwrap_or_else(|| panic!("unparseable line {line:?}")))
        .collect()
}

fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let end = loop {
            let (start, c) = *chars.peek()?;
            if c == '}' {
                break start + 1;
            }
            if c == ',' {
                chars.next();
                continue;
            }
            let eq = inner[start..].find('=')? + start;
            let key = inner[start..eq].to_owned();
            while chars.peek()?.0 <= eq + 1 {
                chars.next();
            }
            let mut value = String::new();
            loop {
                let (_, c) = chars.next()?;
                match c {
                    '"' => break,
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    other => value.push(other),
                }
            }
            labels.insert(key, value);
        };
        rest = &inner[end..];
    }
    let value = rest.trim().split(' ').next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// Samples of one metric, keyed by their labels rendered as `k=v,k=v`.
pub fn series(samples: &[Sample], name: &str) -> BTreeMap<String, f64> {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| {
            let key: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (key.join(","), s.value)
        })
        .collect()
}

pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

/// Set as `metrics_status` to make metrics.k8s.io lists stall without answering.
pub const STALL: u16 = 1;

/// A Kubernetes API server over TLS that requires a bearer token, serving a fixture.
/// `metrics_status` set to an HTTP status makes every metrics.k8s.io list answer it
/// (or [`STALL`]); `metrics_requests` counts the lists asked for.
pub struct TlsApiServer {
    pub url: String,
    pub ca_pem: String,
    pub token: String,
    pub metrics_status: Arc<AtomicU16>,
    pub metrics_requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Gate {
    token: String,
    metrics_status: Arc<AtomicU16>,
    metrics_requests: Arc<AtomicUsize>,
}

async fn gate(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let expected = format!("Bearer {}", gate.token);
    let authorized = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
    if !authorized {
        return status_response(401, "Unauthorized");
    }
    let is_metrics_list = request.uri().path().starts_with("/apis/metrics.k8s.io/");
    if is_metrics_list {
        gate.metrics_requests.fetch_add(1, Ordering::SeqCst);
        match gate.metrics_status.load(Ordering::SeqCst) {
            0 => {}
            STALL => std::future::pending::<()>().await,
            status => return status_response(status, "injected failure"),
        }
    }
    next.run(request).await
}

fn status_response(code: u16, message: &str) -> Response {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "code": code,
    });
    (
        http::StatusCode::from_u16(code).unwrap(),
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

impl TlsApiServer {
    pub async fn start(fixture: Fixture, version: MetricsApiVersion) -> TlsApiServer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test cluster CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server_cert =
            rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
                .unwrap()
                .signed_by(&server_key, &ca)
                .unwrap();
        let tls = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![server_cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

        let token = "test-bearer-token-5f3a9c".to_owned();
        let metrics_status = Arc::new(AtomicU16::new(0));
        let metrics_requests = Arc::new(AtomicUsize::new(0));
        let gate_state = Gate {
            token: token.clone(),
            metrics_status: metrics_status.clone(),
            metrics_requests: metrics_requests.clone(),
        };
        let router = metrics_server_prom::simulator::fixture_router(fixture, version)
            .layer(axum::middleware::from_fn_with_state(gate_state, gate));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let router = router.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TlsApiServer {
            url,
            ca_pem: ca.pem(),
            token,
            metrics_status,
            metrics_requests,
            task,
        }
    }

    /// A kubeconfig with two contexts: `broken` (the current one: right server, wrong
    /// token) and `working`. Only selecting `working` reads the fixture.
    pub fn write_kubeconfig(&self, dir: &Path) -> std::path::PathBuf {
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, &self.ca_pem).unwrap();
        let kubeconfig = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "broken",
            "clusters": [{"name": "test", "cluster": {
                "server": self.url, "certificate-authority": ca_path}}],
            "users": [
                {"name": "intruder", "user": {"token": "wrong-token"}},
                {"name": "tester", "user": {"token": self.token}},
            ],
            "contexts": [
                {"name": "broken", "context": {"cluster": "test", "user": "intruder"}},
                {"name": "working", "context": {"cluster": "test", "user": "tester"}},
            ],
        });
        let path = dir.join("kubeconfig");
        std::fs::write(&path, kubeconfig.to_string()).unwrap();
        path
    }
}
