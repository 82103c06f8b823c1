//! The API server stand-in: just enough of the Kubernetes API for `kubectl get --raw`
//! and `metrics-server-prom snapshot` (version, discovery of metrics.k8s.io, one pod
//! listed and watched, its PodMetrics), behind the authentication of a real API
//! server (client certificate, bearer token or basic auth, else 401).
//!
//! Three ways to serve it: over rustls (any TLS version, client certificates
//! optional or required), over plain HTTP, and behind `openssl s_server` for the
//! server keys and cipher suites rustls with ring cannot serve (RSA-1024, P-521, TLS
//! 1.2 CBC suites). Every request is recorded with what credential it presented and
//! which user that authenticated as; never the credential itself.
//!
//! `/version` says v1.32.4: gcloud's kubectl is a dispatcher that asks the server's
//! version first and runs the matching kubectl, so this keeps it on its 1.32 build.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use serde_json::json;

pub const NAMESPACE: &str = "matrix";
pub const POD: &str = "matrix-pod";
pub const METRICS_PATH: &str = "/apis/metrics.k8s.io/v1beta1/pods";

/// Who the stand-in accepts: bearer tokens, basic-auth pairs and client certificates
/// (by their exact DER: the test issued every one it trusts), each naming a user;
/// and, where set, requests with no credential at all as an anonymous user. Any user
/// may impersonate another (`Impersonate-User`).
#[derive(Clone, Default)]
pub struct Users {
    tokens: Vec<(String, String)>,
    basic: Vec<(String, String, String)>,
    certs: Vec<(Vec<u8>, String)>,
    anonymous: Option<String>,
}

impl Users {
    pub fn token(mut self, token: &str, user: &str) -> Users {
        self.tokens.push((token.into(), user.into()));
        self
    }

    pub fn basic(mut self, name: &str, password: &str, user: &str) -> Users {
        self.basic.push((name.into(), password.into(), user.into()));
        self
    }

    pub fn cert(mut self, der: Vec<u8>, user: &str) -> Users {
        self.certs.push((der, user.into()));
        self
    }

    /// Requests presenting nothing are served as `user`, as `kubectl proxy` or an
    /// insecure port serves them.
    pub fn anonymous(mut self, user: &str) -> Users {
        self.anonymous = Some(user.into());
        self
    }

    /// What the request presented (a label safe to print) and the user it
    /// authenticates as. A trusted client certificate wins, as in kube-apiserver,
    /// where the x509 authenticator runs before the token authenticators.
    fn authenticate(
        &self,
        cert: Option<&[u8]>,
        authorization: Option<&str>,
        impersonate: Option<&str>,
    ) -> Identity {
        let mut presented = Vec::new();
        let mut user = None;
        if let Some(cert) = cert {
            match self.certs.iter().find(|(der, _)| der == cert) {
                Some((_, name)) => {
                    presented.push(format!("cert:{name}"));
                    user = Some(name.clone());
                }
                None => presented.push("cert:untrusted".into()),
            }
        }
        if let Some(value) = authorization {
            let (scheme, credential) = value.split_once(' ').unwrap_or((value, ""));
            let found = match scheme {
                "Bearer" => self
                    .tokens
                    .iter()
                    .find(|(token, _)| token == credential)
                    .map(|(_, name)| name.clone()),
                "Basic" => basic_pair(credential).and_then(|(name, password)| {
                    self.basic
                        .iter()
                        .find(|(n, p, _)| *n == name && *p == password)
                        .map(|(_, _, user)| user.clone())
                }),
                _ => None,
            };
            let scheme = scheme.to_ascii_lowercase();
            match &found {
                Some(name) => presented.push(format!("{scheme}:{name}")),
                None => presented.push(format!("{scheme}:unknown")),
            }
            user = user.or(found);
        }
        if presented.is_empty() {
            presented.push("nothing".into());
            user.clone_from(&self.anonymous);
        }
        if let Some(other) = impersonate {
            presented.push(format!("as:{other}"));
            user = user.map(|_| other.to_owned());
        }
        Identity {
            presented: presented.join("+"),
            user,
        }
    }
}

fn basic_pair(encoded: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, password) = text.split_once(':')?;
    Some((name.to_owned(), password.to_owned()))
}

struct Identity {
    presented: String,
    user: Option<String>,
}

/// One request the stand-in received.
#[derive(Clone, Debug)]
pub struct Hit {
    /// Path and query, as sent.
    pub path: String,
    /// What credential the request carried, e.g. `bearer:alice`, `cert:untrusted`.
    pub presented: String,
    /// The user it authenticated as; `None` was answered 401.
    pub user: Option<String>,
}

pub type Log = Arc<Mutex<Vec<Hit>>>;

/// Which TLS versions a rustls stand-in speaks.
#[derive(Clone, Copy, Debug)]
pub enum Versions {
    Both,
    Tls12,
    Tls13,
}

/// Whether a rustls stand-in asks for a client certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    Off,
    /// Asked for, not required: what kube-apiserver does.
    Optional,
    /// The handshake fails without one.
    Required,
}

pub struct Tls {
    /// The loopback address to listen on: 127.0.0.1, 127.0.0.2, ::1.
    pub address: std::net::IpAddr,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub versions: Versions,
    pub client_auth: ClientAuth,
}

/// A running stand-in; stopped (task aborted or process killed) when dropped.
pub struct StandIn {
    pub port: u16,
    log: Log,
    _running: Running,
}

enum Running {
    Task(tokio::task::JoinHandle<()>),
    Process(Child),
}

impl Drop for Running {
    fn drop(&mut self) {
        match self {
            Running::Task(task) => task.abort(),
            Running::Process(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl StandIn {
    /// Everything received so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.log.lock().unwrap().clone()
    }

    /// Served over rustls. `prefix` is a path the API sits under (Rancher's
    /// `/k8s/clusters/<id>`), empty for none.
    pub async fn tls(tls: Tls, users: Users, prefix: &str) -> StandIn {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = match tls.versions {
            Versions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
            Versions::Tls12 => &[&rustls::version::TLS12],
            Versions::Tls13 => &[&rustls::version::TLS13],
        };
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .unwrap();
        let builder = match tls.client_auth {
            ClientAuth::Off => builder.with_no_client_auth(),
            mode => builder.with_client_cert_verifier(Arc::new(AnyClientCert {
                mandatory: mode == ClientAuth::Required,
                provider: provider.clone(),
            })),
        };
        // Not with_single_cert: it parses the certificate to match it to the key, and
        // webpki does not parse X.509 v1 certificates, which a server may still show.
        let key = provider.key_provider.load_private_key(tls.key).unwrap();
        let certified = rustls::sign::CertifiedKey::new(tls.chain, key);
        let config =
            builder.with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind((tls.address, 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Log::default();
        let state = Arc::new(State {
            users,
            prefix: prefix.to_owned(),
            log: log.clone(),
        });
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let state = state.clone();
                connections.spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let cert = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .map(|cert| cert.to_vec());
                    serve(hyper_util::rt::TokioIo::new(stream), state, cert).await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        StandIn {
            port,
            log,
            _running: Running::Task(task),
        }
    }

    /// Served over plain HTTP.
    pub async fn plain(users: Users) -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Log::default();
        let state = Arc::new(State {
            users,
            prefix: String::new(),
            log: log.clone(),
        });
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                connections.spawn(serve(hyper_util::rt::TokioIo::new(tcp), state, None));
                while connections.try_join_next().is_some() {}
            }
        });
        StandIn {
            port,
            log,
            _running: Running::Task(task),
        }
    }

    /// Served by `openssl s_server` with `cert` (the chain) and `key`, plus `args`
    /// (versions, cipher suites, security level). s_server terminates TLS and hands
    /// the plaintext to its stdout; each request is answered on its stdin with
    /// `Connection: close`, since s_server serves one connection at a time. Returns
    /// once s_server has printed the port it listens on.
    pub fn openssl(dir: &Path, cert: &Path, key: &Path, args: &[&str], users: Users) -> StandIn {
        let mut child = Command::new("openssl")
            .args(["s_server", "-accept", "127.0.0.1:0", "-cert"])
            .arg(cert)
            .arg("-key")
            .arg(key)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("the matrix needs the `openssl` CLI (Debian package openssl): {error}")
            });
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let log = Log::default();
        let state = State {
            users,
            prefix: String::new(),
            log: log.clone(),
        };
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || bridge(BufReader::new(stdout), stdin, state, port_tx));
        let port = match port_rx.recv() {
            Ok(port) => port,
            Err(_) => {
                let status = child.wait().unwrap();
                panic!("openssl s_server {args:?} exited ({status}) before listening");
            }
        };
        StandIn {
            port,
            log,
            _running: Running::Process(child),
        }
    }
}

struct State {
    users: Users,
    prefix: String,
    log: Log,
}

impl State {
    fn answer(&self, path: &str, cert: Option<&[u8]>, headers: &Headers) -> Answer {
        let identity = self.users.authenticate(
            cert,
            headers.authorization.as_deref(),
            headers.impersonate.as_deref(),
        );
        self.log.lock().unwrap().push(Hit {
            path: path.to_owned(),
            presented: identity.presented,
            user: identity.user.clone(),
        });
        if identity.user.is_none() {
            return Answer::status(401, "Unauthorized");
        }
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let Some(path) = path.strip_prefix(self.prefix.as_str()) else {
            return Answer::status(404, "the server could not find the requested resource");
        };
        let watch = query
            .split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1");
        let body = match path {
            "/version" => json!({
                "major": "1", "minor": "32", "gitVersion": "v1.32.4",
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean", "buildDate": "2025-05-15T00:00:00Z",
                "goVersion": "go1.23.8", "compiler": "gc", "platform": "linux/amd64"
            }),
            "/api" => json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": []}),
            "/apis" => json!({"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [metrics_group()]}),
            "/apis/metrics.k8s.io" => {
                let mut group = metrics_group();
                group["kind"] = json!("APIGroup");
                group["apiVersion"] = json!("v1");
                group
            }
            METRICS_PATH => json!({
                "kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {},
                "items": [{
                    "metadata": {"name": POD, "namespace": NAMESPACE,
                        "creationTimestamp": "2026-01-01T00:00:00Z"},
                    "timestamp": "2026-01-01T00:00:00Z",
                    "window": "15s",
                    "containers": [{"name": "app", "usage": {"cpu": "5m", "memory": "1Mi"}}]
                }]
            }),
            "/api/v1/pods" if watch => return Answer::Watch,
            "/api/v1/pods" => json!({
                "kind": "PodList", "apiVersion": "v1",
                "metadata": {"resourceVersion": "7"},
                "items": [{
                    "metadata": {"name": POD, "namespace": NAMESPACE, "resourceVersion": "7",
                        "uid": "00000000-0000-0000-0000-000000000007"},
                    "spec": {"nodeName": "matrix-node",
                        "containers": [{"name": "app", "image": "app"}]},
                    "status": {"phase": "Running", "podIP": "10.9.0.7"}
                }]
            }),
            _ => return Answer::status(404, "the server could not find the requested resource"),
        };
        Answer::Json(200, body.to_string())
    }
}

fn metrics_group() -> serde_json::Value {
    let version = json!({"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"});
    json!({"name": "metrics.k8s.io", "versions": [version], "preferredVersion": version})
}

/// The request headers the stand-in looks at.
#[derive(Default)]
struct Headers {
    authorization: Option<String>,
    impersonate: Option<String>,
}

impl Headers {
    fn set(&mut self, name: &str, value: &str) {
        if name.eq_ignore_ascii_case("authorization") {
            self.authorization = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("impersonate-user") {
            self.impersonate = Some(value.to_owned());
        }
    }
}

enum Answer {
    Json(u16, String),
    /// A watch: one BOOKMARK event, then nothing.
    Watch,
}

impl Answer {
    fn status(code: u16, message: &str) -> Answer {
        let body = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "code": code,
        });
        Answer::Json(code, body.to_string())
    }
}

const BOOKMARK: &str = r#"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"8"}}}"#;

type Body = BoxBody<Bytes, Infallible>;

async fn serve<I>(io: I, state: Arc<State>, cert: Option<Vec<u8>>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let state = state.clone();
            let cert = cert.clone();
            async move {
                let path = request
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default();
                let mut headers = Headers::default();
                for (name, value) in request.headers() {
                    headers.set(name.as_str(), value.to_str().unwrap_or_default());
                }
                let answer = state.answer(&path, cert.as_deref(), &headers);
                let (status, body): (u16, Body) = match answer {
                    Answer::Json(status, text) => (status, Full::new(Bytes::from(text)).boxed()),
                    Answer::Watch => {
                        let first = Bytes::from(format!("{BOOKMARK}\n"));
                        let events = futures::stream::once(async move {
                            Ok::<_, Infallible>(Frame::data(first))
                        })
                        .chain(futures::stream::pending());
                        (200, BodyExt::boxed(StreamBody::new(events)))
                    }
                };
                let response = hyper::Response::builder()
                    .status(status)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .unwrap();
                Ok::<_, Infallible>(response)
            }
        });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

/// Reads `openssl s_server`'s stdout: the `ACCEPT host:port` line, then per
/// connection some lines about the session and the client's plaintext. Each HTTP
/// request found there is answered on s_server's stdin in a single write (s_server
/// reads 16 KiB at a time; the answers are far smaller).
fn bridge(
    mut stdout: BufReader<std::process::ChildStdout>,
    mut stdin: std::process::ChildStdin,
    state: State,
    port: std::sync::mpsc::Sender<u16>,
) {
    let mut line = Vec::new();
    let mut request: Option<(String, Headers)> = None;
    loop {
        line.clear();
        match stdout.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        if let Some(address) = text.strip_prefix("ACCEPT ") {
            if let Some(number) = address.trim().rsplit(':').next() {
                let _ = port.send(number.parse().unwrap());
            }
            continue;
        }
        match &mut request {
            None => {
                let mut words = text.trim_end().split(' ');
                if let (Some("GET"), Some(path), Some(version)) =
                    (words.next(), words.next(), words.next())
                {
                    if version.starts_with("HTTP/1.") {
                        request = Some((path.to_owned(), Headers::default()));
                    }
                }
            }
            Some((path, headers)) => {
                let header = text.trim_end_matches(['\r', '\n']);
                if header.is_empty() {
                    let answer = state.answer(path, None, headers);
                    let (status, body) = match answer {
                        Answer::Json(status, body) => (status, body),
                        Answer::Watch => (200, format!("{BOOKMARK}\n")),
                    };
                    let response = format!(
                        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        if status == 200 { "OK" } else { "Error" },
                        body.len()
                    );
                    if stdin.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                    let _ = stdin.flush();
                    request = None;
                } else if let Some((name, value)) = header.split_once(':') {
                    headers.set(name, value.trim());
                }
            }
        }
    }
}

/// Asks for a client certificate and takes any; [`Users`] decides at the HTTP layer
/// whether it is trusted (as kube-apiserver's x509 authenticator does). The
/// handshake signature is checked where rustls can parse the certificate; an X.509
/// v1 certificate (which webpki does not parse) is taken on trust, since the test
/// made it.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if rustls::server::ParsedCertificate::try_from(cert).is_err() {
            return Ok(HandshakeSignatureValid::assertion());
        }
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if rustls::server::ParsedCertificate::try_from(cert).is_err() {
            return Ok(HandshakeSignatureValid::assertion());
        }
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
