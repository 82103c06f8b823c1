//! The exporter's endpoint secured with `--web.config.file`: TLS, basic auth and client
//! certificates, certificate reload, the `http_server_config` headers and HTTP/2, the
//! rate limit, errors naming the key, and a real Prometheus scraping over HTTPS with
//! basic auth from a web config written as node_exporter's documentation has it. The exporter reads `metrics-server-prom simulate`. Needs `prometheus`
//! (Debian package `prometheus`); without it the Prometheus test fails, never skips.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{https_get, tls_client, Issued, Process, TestCa, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USER: &str = "prometheus";
const PASSWORD: &str = "correct horse battery staple";

/// A simulated cluster, a CA, and a server certificate in `server.crt`/`server.key`.
struct Setup {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    ca: TestCa,
    /// The certificate first in `server.crt`.
    first: Issued,
    hash: String,
    _simulator: Process,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let (simulator, _) = Process::simulator(&kubeconfig, &["--tick", "1h", "--churn", "0"]);
        let ca = TestCa::new("exporter test CA");
        let first = ca.server("first");
        write_pair(dir.path(), &first);
        Setup {
            dir,
            kubeconfig,
            ca,
            first,
            hash: bcrypt::hash(PASSWORD, 4).unwrap(),
            _simulator: simulator,
        }
    }

    /// The exporter with `web_config` (relative paths are from the temp dir).
    fn exporter(&self, web_config: &str) -> (Process, SocketAddr) {
        let path = self.dir.path().join("web.yml");
        std::fs::write(&path, web_config).unwrap();
        Process::exporter(
            &[
                "--kubeconfig",
                self.kubeconfig.to_str().unwrap(),
                "--web.config.file",
                path.to_str().unwrap(),
            ],
            &[],
        )
    }

    /// A web config with every section exporter-toolkit documents for node_exporter and
    /// this exporter supports: TLS, two users, paths left open, security headers.
    fn as_node_exporter_documents(&self, http2: Option<bool>) -> String {
        let http2 = match http2 {
            Some(http2) => format!("  http2: {http2}\n"),
            None => String::new(),
        };
        format!(
            "# TLS, basic auth and security headers, as for node_exporter.\n\
             tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
             \n\
             http_server_config:\n{http2}  headers:\n    \
             X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n    \
             Strict-Transport-Security: max-age=31536000\n\
             \n\
             basic_auth_users:\n  {USER}: {hash}\n  bob: {bob}\n\
             \n\
             basic_auth_excluded_paths:\n- /healthz\n- /readyz\n",
            hash = self.hash,
            bob = bcrypt::hash("bob's password", 4).unwrap(),
        )
    }

    fn tls_and_auth(&self) -> String {
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
             basic_auth_users:\n  {USER}: '{}'\n",
            self.hash
        )
    }
}

/// Replaces the server certificate and key the way a Secret update does: each file
/// appears whole, by rename.
fn write_pair(dir: &Path, issued: &Issued) {
    replace(&dir.join("server.crt"), &issued.cert_pem);
    replace(&dir.join("server.key"), &issued.key_pem);
}

fn replace(path: &Path, contents: &str) {
    let staged = path.with_extension("new");
    std::fs::write(&staged, contents).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_and_basic_auth_guard_every_path() {
    let setup = Setup::new();
    let (exporter, address) = setup.exporter(&setup.tls_and_auth());
    let client = tls_client(&setup.ca.pem(), None);

    let scrape = https_get(address, client.clone(), "/metrics", Some((USER, PASSWORD)))
        .await
        .unwrap();
    assert_eq!(scrape.status, 200, "{}", scrape.body);
    assert!(
        scrape.body.contains("kube_metrics_server_up"),
        "{}",
        scrape.body
    );

    for (path, credentials) in [
        ("/metrics", Some((USER, "wrong password"))),
        ("/metrics", Some(("intruder", PASSWORD))),
        ("/metrics", Some((USER, ""))),
        ("/metrics", None),
        ("/healthz", None),
        ("/readyz", None),
        ("/", None),
        ("/no-such-path", None),
    ] {
        let reply = https_get(address, client.clone(), path, credentials)
            .await
            .unwrap();
        assert_eq!(reply.status, 401, "{path} {credentials:?}");
        let challenge = reply.headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Basic "), "{challenge}");
        assert!(
            !reply.body.contains("kube_metrics_server"),
            "{}",
            reply.body
        );
    }
    for path in ["/healthz", "/"] {
        let reply = https_get(address, client.clone(), path, Some((USER, PASSWORD)))
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{path}");
    }

    // Plain HTTP on the TLS port: the handshake fails, no HTTP is spoken.
    let mut plain = tokio::net::TcpStream::connect(address).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer).await;
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    assert!(reqwest::get(format!("http://{address}/healthz"))
        .await
        .is_err());

    let log = exporter.log_text();
    assert!(
        log.contains(&format!("listening on https://{address}/metrics")),
        "{log}"
    );
    assert!(!log.contains(PASSWORD), "a password was logged:\n{log}");
    assert!(!log.contains(&setup.hash), "a password hash was logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_client_auth_type_asks_for_and_checks_certificates_as_named() {
    let setup = Setup::new();
    let client_ca = TestCa::new("client CA");
    std::fs::write(setup.dir.path().join("clients.pem"), client_ca.pem()).unwrap();
    let trusted = client_ca.client("trusted client");
    let foreign = TestCa::new("someone else's CA").client("foreign client");
    let server_ca = setup.ca.pem();
    let clients = [
        ("no certificate", tls_client(&server_ca, None)),
        (
            "a certificate of another CA",
            tls_client(&server_ca, Some(&foreign)),
        ),
        (
            "a certificate of the client CA",
            tls_client(&server_ca, Some(&trusted)),
        ),
    ];
    // Whether each of the clients above is served.
    let table = [
        ("NoClientCert", [true, true, true]),
        ("RequestClientCert", [true, true, true]),
        ("RequireAnyClientCert", [false, true, true]),
        ("VerifyClientCertIfGiven", [true, false, true]),
        ("RequireAndVerifyClientCert", [false, false, true]),
    ];
    for (client_auth_type, served) in table {
        let client_ca_file = match client_auth_type {
            "NoClientCert" => "",
            _ => "  client_ca_file: clients.pem\n",
        };
        let (exporter, address) = setup.exporter(&format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
             {client_ca_file}  client_auth_type: {client_auth_type}\n"
        ));
        for ((who, client), want) in clients.iter().zip(served) {
            let reply = https_get(address, client.clone(), "/healthz", None).await;
            match want {
                true => assert_eq!(
                    reply.as_ref().map(|r| r.status),
                    Ok(200),
                    "{client_auth_type}: {who} must be served\n{}",
                    exporter.log_text()
                ),
                false => assert!(
                    reply.is_err(),
                    "{client_auth_type}: {who} must be refused, got {reply:?}"
                ),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replaced_certificate_is_served_to_the_next_connection() {
    let setup = Setup::new();
    let (exporter, address) =
        setup.exporter("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
    let client = tls_client(&setup.ca.pem(), None);
    let served = https_get(address, client.clone(), "/healthz", None)
        .await
        .unwrap();
    assert_eq!(served.status, 200);
    assert!(
        served.server_cert == setup.first.der,
        "the first certificate"
    );

    let second = setup.ca.server("second");
    write_pair(setup.dir.path(), &second);
    let served = https_get(address, client.clone(), "/healthz", None)
        .await
        .unwrap();
    assert_eq!(served.status, 200);
    assert!(served.server_cert == second.der, "the second certificate");

    // A certificate whose key has not arrived yet does not load: the second stays.
    let third = setup.ca.server("third");
    replace(&setup.dir.path().join("server.crt"), &third.cert_pem);
    let served = https_get(address, client.clone(), "/healthz", None)
        .await
        .unwrap();
    assert!(
        served.server_cert == second.der,
        "still the second certificate"
    );
    replace(&setup.dir.path().join("server.key"), &third.key_pem);
    let served = https_get(address, client.clone(), "/healthz", None)
        .await
        .unwrap();
    assert!(served.server_cert == third.der, "the third certificate");

    let log = exporter.log_text();
    assert!(log.contains("reloaded certificate"), "{log}");
    assert!(
        log.contains("still serving the previous certificate"),
        "{log}"
    );
    assert!(!log.contains("PRIVATE KEY"), "key material was logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_over_tls_with_basic_auth() {
    let prometheus = support::tool("prometheus");
    let setup = Setup::new();
    let (_exporter, address) = setup.exporter(&setup.as_node_exporter_documents(None));
    wait_until_ready(address, tls_client(&setup.ca.pem(), None)).await;
    let dir = setup.dir.path();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, setup.ca.pem()).unwrap();

    let port = support::free_port();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: secured\n    scheme: https\n    \
             tls_config:\n      ca_file: {ca}\n    \
             basic_auth:\n      username: {USER}\n      password: '{PASSWORD}'\n    \
             static_configs:\n      - targets: ['{address}']\n",
            ca = ca_file.display()
        ),
    )
    .unwrap();
    let _prometheus = support::KillOnDrop(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let prometheus_url = format!("http://127.0.0.1:{port}");
    support::wait_until_ok(&format!("{prometheus_url}/-/ready")).await;

    // `up` is 1 only for a scrape that passed TLS verification and basic auth.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let up = support::prometheus_query(&prometheus_url, "up{job=\"secured\"}").await;
        let cpu = support::prometheus_query(
            &prometheus_url,
            "kube_metrics_server_pod_cpu{job=\"secured\"}",
        )
        .await;
        let up_value = up.first().map(|sample| sample["value"][1].clone());
        if up_value == Some("1".into()) && !cpu.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not scrape the exporter: up {up_value:?}, {} cpu series",
            cpu.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_web_config_as_node_exporter_documents_it_works_unchanged() {
    let setup = Setup::new();
    let (_exporter, address) = setup.exporter(&setup.as_node_exporter_documents(None));
    let client = tls_client(&setup.ca.pem(), None);
    wait_until_ready(address, client.clone()).await;

    let security_headers = |reply: &support::HttpsReply| {
        for (name, value) in [
            ("x-frame-options", "deny"),
            ("x-content-type-options", "nosniff"),
            ("strict-transport-security", "max-age=31536000"),
        ] {
            assert_eq!(
                reply.headers.get(name).map(|v| v.to_str().unwrap()),
                Some(value),
                "{name} on a {} answer",
                reply.status
            );
        }
    };
    let refused = https_get(address, client.clone(), "/metrics", None)
        .await
        .unwrap();
    assert_eq!(refused.status, 401);
    security_headers(&refused);
    for credentials in [(USER, PASSWORD), ("bob", "bob's password")] {
        let scrape = https_get(address, client.clone(), "/metrics", Some(credentials))
            .await
            .unwrap();
        assert_eq!(scrape.status, 200, "{credentials:?}");
        assert!(
            scrape.body.contains("kube_metrics_server_up 1"),
            "{}",
            scrape.body
        );
        security_headers(&scrape);
    }
    // The excluded paths answer without credentials; the others still need them.
    for (path, status) in [("/healthz", 200), ("/readyz", 200), ("/", 401)] {
        let reply = https_get(address, client.clone(), path, None)
            .await
            .unwrap();
        assert_eq!(reply.status, status, "{path}");
        security_headers(&reply);
    }

    // http2 defaults to true: a client that offers h2 gets it, and is served over it.
    let (protocol, status, body) = alpn_get(address, &setup.ca.pem(), "/metrics").await;
    assert_eq!(protocol, "h2");
    assert_eq!(status, 200);
    assert!(body.contains("kube_metrics_server_up 1"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_false_answers_a_client_offering_h2_in_http1() {
    let setup = Setup::new();
    let (_exporter, address) = setup.exporter(&setup.as_node_exporter_documents(Some(false)));
    wait_until_ready(address, tls_client(&setup.ca.pem(), None)).await;
    let (protocol, status, body) = alpn_get(address, &setup.ca.pem(), "/metrics").await;
    assert_eq!(protocol, "http/1.1");
    assert_eq!(status, 200);
    assert!(body.contains("kube_metrics_server_up 1"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limit_answers_429_with_retry_after_and_the_headers() {
    let setup = Setup::new();
    let (_exporter, address) = setup.exporter(
        "rate_limit:\n  interval: 1h\n  burst: 2\n\
         http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n",
    );
    let url = format!("http://{address}/healthz");
    for _ in 0..2 {
        let reply = reqwest::get(&url).await.unwrap();
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()["x-frame-options"], "sameorigin");
    }
    let refused = reqwest::get(&url).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["x-frame-options"], "sameorigin");
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
}

#[test]
fn a_malformed_web_config_stops_the_start_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, expected) in [
        (
            "basic_auth_users:\n  alice:\n",
            "basic_auth_users.alice: the password hash is empty; expected a bcrypt hash",
        ),
        (
            "http_server_config:\n  headers:\n    Server: exporter\n",
            "http_server_config.headers.Server: this header cannot be set; expected one of",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
            "tls_server_config.cipher_suites: not supported by metrics-server-prom",
        ),
    ] {
        let file = dir.path().join("web-config.yml");
        std::fs::write(&file, text).unwrap();
        let output = Command::new(support::BINARY)
            .args(["--web.listen-address", "127.0.0.1:0", "--web.config.file"])
            .arg(&file)
            .args(["--kubeconfig", "/nonexistent"])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{text:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("web config file {}: {expected}", file.display())),
            "{text:?}:\n{stderr}"
        );
    }
}

/// GET `path` over TLS offering HTTP/2 and HTTP/1.1 (ALPN), in whichever the server
/// chose: the protocol, the status and the body.
async fn alpn_get(address: SocketAddr, ca_pem: &str, path: &str) -> (String, u16, String) {
    use http_body_util::BodyExt;
    let mut config = (*tls_client(ca_pem, None)).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    let protocol = String::from_utf8(tls.get_ref().1.alpn_protocol().unwrap().to_vec()).unwrap();
    let io = hyper_util::rt::TokioIo::new(tls);
    let request = http::Request::get(format!("https://localhost{path}"))
        .header(http::header::AUTHORIZATION, support::basic(USER, PASSWORD))
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .unwrap();
    let response = match protocol.as_str() {
        "h2" => {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                    .await
                    .unwrap();
            tokio::spawn(connection);
            sender.send_request(request).await.unwrap()
        }
        _ => {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(connection);
            sender.send_request(request).await.unwrap()
        }
    };
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        protocol,
        status,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// Polls /readyz over TLS with the credentials until it answers 200.
async fn wait_until_ready(address: SocketAddr, client: std::sync::Arc<rustls::ClientConfig>) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = https_get(address, client.clone(), "/readyz", Some((USER, PASSWORD))).await;
        if reply.as_ref().is_ok_and(|reply| reply.status == 200) {
            return;
        }
        assert!(Instant::now() < deadline, "never ready: {reply:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
