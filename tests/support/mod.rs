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
use simulator::{
    Fixture, FixtureContainer, FixtureNode, FixturePod, MetricsApiVersion, RequestTally,
};

pub const BINARY: &str = env!("CARGO_BIN_EXE_metrics-server-prom");

/// How long any wait in these tests may take before the test gives up.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Runs `metrics-server-prom snapshot --kubeconfig <kubeconfig> <args>` to completion,
/// with none of the environment variables that would change what it reads.
pub async fn run_snapshot(kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(BINARY);
    command
        .arg("snapshot")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("KUBE_CONTEXT")
        .env_remove("RUST_LOG");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

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
    /// A free port unless `extra` names a `--listen-address`.
    pub fn simulator(kubeconfig: &Path, extra: &[&str]) -> (Process, String) {
        let listen: &[&str] = if extra.contains(&"--listen-address") {
            &[]
        } else {
            &["--listen-address", "127.0.0.1:0"]
        };
        let mut child = Command::new(BINARY)
            .arg("simulate")
            .args(listen)
            .arg("--write-kubeconfig")
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

    /// Waits until a log line contains `needle`: how a test learns the process reached a
    /// state it logs.
    pub async fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains(needle))
        {
            assert!(
                Instant::now() < deadline,
                "never logged {needle:?}; log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends a signal (`"TERM"`, `"INT"`) to this process by its id.
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, failing the test if it does not within [`PATIENCE`].
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the process did not exit; log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Resident memory in KiB, from /proc/PID/status.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in /proc status:\n{status}"))
    }
}

fn listening_address(line: &str) -> Option<SocketAddr> {
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    let message = json.get("message")?.as_str()?;
    let rest = message
        .strip_prefix("listening on http://")
        .or_else(|| message.strip_prefix("listening on https://"))?;
    rest.split('/').next()?.parse().ok()
}

/// The body of a GET of `url`, which must answer 200.
pub async fn get_text(url: &str) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.unwrap()
}

/// The simulated API server's count of the requests it has answered, by kind.
pub async fn request_tally(api: &str) -> RequestTally {
    reqwest::get(format!("{api}/simulator/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
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

/// Set as `metrics_status` to hold metrics.k8s.io lists until [`TlsApiServer::release`].
pub const HOLD: u16 = 2;

/// A Kubernetes API server over TLS that requires a bearer token, serving a fixture.
/// `metrics_status` set to an HTTP status makes every metrics.k8s.io list answer it
/// (or [`STALL`]); `metrics_requests` counts the lists asked for.
pub struct TlsApiServer {
    pub url: String,
    pub ca_pem: String,
    pub token: String,
    pub metrics_status: Arc<AtomicU16>,
    pub metrics_requests: Arc<AtomicUsize>,
    /// Metrics lists that have reached a [`STALL`] or [`HOLD`] and wait there.
    waiting: Arc<tokio::sync::watch::Sender<usize>>,
    released: Arc<tokio::sync::watch::Sender<bool>>,
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
    waiting: Arc<tokio::sync::watch::Sender<usize>>,
    released: Arc<tokio::sync::watch::Sender<bool>>,
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
            STALL => {
                gate.waiting.send_modify(|n| *n += 1);
                std::future::pending::<()>().await
            }
            HOLD => {
                let mut released = gate.released.subscribe();
                gate.waiting.send_modify(|n| *n += 1);
                let _ = released.wait_for(|released| *released).await;
            }
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
        let waiting = Arc::new(tokio::sync::watch::channel(0).0);
        let released = Arc::new(tokio::sync::watch::channel(false).0);
        let gate_state = Gate {
            token: token.clone(),
            metrics_status: metrics_status.clone(),
            metrics_requests: metrics_requests.clone(),
            waiting: waiting.clone(),
            released: released.clone(),
        };
        let router = simulator::fixture_router(fixture, version)
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
            waiting,
            released,
            task,
        }
    }

    /// Waits until `count` metrics lists are held or stalled.
    pub async fn wait_until_waiting(&self, count: usize) {
        let mut waiting = self.waiting.subscribe();
        tokio::time::timeout(PATIENCE, waiting.wait_for(|n| *n >= count))
            .await
            .expect("metrics lists never reached the server")
            .unwrap();
    }

    /// Lets every [`HOLD`]-held metrics list, and later ones, answer.
    pub fn release(&self) {
        self.released.send_replace(true);
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

/// A certificate authority for tests, issuing server and client certificates.
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

/// A certificate issued by a [`TestCa`], with its key.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        TestCa {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for 127.0.0.1 and localhost.
    pub fn server(&self, common_name: &str) -> Issued {
        self.issue(common_name, rcgen::ExtendedKeyUsagePurpose::ServerAuth)
    }

    pub fn client(&self, common_name: &str) -> Issued {
        self.issue(common_name, rcgen::ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(&self, common_name: &str, usage: rcgen::ExtendedKeyUsagePurpose) -> Issued {
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// A rustls client trusting `ca_pem`, presenting `identity` when given.
pub fn tls_client(ca_pem: &str, identity: Option<&Issued>) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some(issued) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(issued.der.clone())],
                PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// What an HTTPS request got back, and the certificate the server showed.
#[derive(Debug)]
pub struct HttpsReply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
    pub server_cert: Vec<u8>,
}

/// One GET over a new TLS connection to `address`, with basic auth when given. An error
/// is a failed handshake or a connection the server closed without answering.
pub async fn https_get(
    address: SocketAddr,
    client: Arc<rustls::ClientConfig>,
    path: &str,
    credentials: Option<(&str, &str)>,
) -> Result<HttpsReply, String> {
    use http_body_util::BodyExt;
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(client)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let server_cert = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(connection);
    let mut request = http::Request::get(path).header(http::header::HOST, "localhost");
    if let Some((user, password)) = credentials {
        request = request.header(http::header::AUTHORIZATION, basic(user, password));
    }
    let response = sender
        .send_request(
            request
                .body(http_body_util::Empty::<hyper::body::Bytes>::new())
                .unwrap(),
        )
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok(HttpsReply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        server_cert,
    })
}

/// The value of an `Authorization` header for basic auth.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A program on the PATH; a missing one fails the test, never skips it.
pub fn tool(name: &str) -> std::path::PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("`{name}` is not installed: install the Debian package `prometheus` (bash .ci/run does)")
    })
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `promtool check metrics` on an exposition: `Err` with promtool's words when it
/// reports a problem or a lint warning.
pub fn promtool_check_metrics(text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut check = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting promtool");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = check.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() && said.is_empty() {
        Ok(())
    } else {
        Err(said)
    }
}

/// A PromQL instant query through Prometheus' HTTP API; the result vector.
pub async fn prometheus_query(prometheus: &str, promql: &str) -> Vec<serde_json::Value> {
    let response: serde_json::Value = reqwest::Client::new()
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", promql)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["status"], "success", "{response}");
    response["data"]["result"].as_array().unwrap().clone()
}

/// A child process killed, by its own handle, when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One node, `node-a`, and the pods `(namespace, name)` on it, each with one container
/// `app` using 5m of CPU and 1Mi of memory.
pub fn small_fixture(pods: &[(&str, &str)]) -> Fixture {
    let pod = |(namespace, name): &(&str, &str)| FixturePod {
        namespace: (*namespace).into(),
        name: (*name).into(),
        node: Some("node-a".into()),
        ip: Some("10.0.0.1".into()),
        listed: true,
        containers: vec![FixtureContainer {
            name: "app".into(),
            cpu: "5m".into(),
            memory: "1Mi".into(),
        }],
    };
    Fixture {
        nodes: vec![FixtureNode {
            name: "node-a".into(),
            cpu: "1".into(),
            memory: "1Gi".into(),
        }],
        pods: pods.iter().map(pod).collect(),
    }
}
