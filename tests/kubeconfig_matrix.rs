//! Issue #9, "Connect wherever kubectl connects": a matrix of kubeconfig, certificate,
//! TLS and proxy arrangements that real clusters and users produce, each asked of
//! kubectl (`kubectl get --raw /apis/metrics.k8s.io/v1beta1/pods`) and of
//! `metrics-server-prom snapshot -o json`, which must agree:
//!
//! - where kubectl connects, we connect, as the same user (the stand-in records who
//!   each request authenticated as) and through the proxy exactly when kubectl went
//!   through it;
//! - where kubectl refuses, we refuse, and our error names the problem (and, for a
//!   certificate problem, the server);
//! - where we differ from kubectl on purpose (README, "Kubeconfig compatibility":
//!   RSA keys below 2048 bits, servers offering only CBC cipher suites), kubectl
//!   connects and we refuse, naming the cause and the server.
//!
//! kubectl is the oracle, but each case also states what kubectl is known to do, so
//! that a stand-in broken for both clients cannot pass as agreement (recorded with
//! kubectl v1.32.4, Go 1.23; a much older kubectl differs, e.g. without
//! client.authentication.k8s.io/v1 exec plugins before 1.22). Certificates are
//! made per case (rcgen, and the openssl CLI for the shapes rcgen cannot make); the
//! API stand-in, the CONNECT proxy and the SOCKS5 proxy run in this process on
//! loopback, except for the servers rustls cannot be (RSA-1024, P-521, CBC-only),
//! which `openssl s_server` fronts. Cases run concurrently; a table of every verdict is
//! printed (`--nocapture`) and the test fails listing every case that disagrees.

#[path = "kubeconfig_matrix/api.rs"]
mod api;
#[path = "kubeconfig_matrix/pki.rs"]
mod pki;
#[path = "kubeconfig_matrix/proxy.rs"]
mod proxy;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use api::{ClientAuth, Hit, StandIn, Tls, Users, Versions, METRICS_PATH, POD};
use pki::{Ca, KeyKind, Leaf, OpensslKey, OpensslSpec, Spec, Validity};
use proxy::{Kind, Names, Options, Proxy, Tunnel};

const BINARY: &str = env!("CARGO_BIN_EXE_metrics-server-prom");

/// A bearer token the stand-in knows as user `alice`.
const ALICE: &str = "matrix-token-alice-5b1e07";

/// A name only the proxies resolve.
const PRIVATE_NAME: &str = "kube.matrix.invalid";

/// Cases run at once; the machine may have two cores.
const PARALLEL: usize = 6;

/// Longest a client may take before it is killed; both have shorter timeouts.
const CLIENT_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------
// What a case is and how its result is judged.

/// What kubectl is known to do with a case.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// kubectl connects, authenticated as this user.
    Connect(&'static str),
    /// kubectl refuses; our error must contain one of `words` (compared lowercase,
    /// letters and digits only) and, with `server`, the server's host:port.
    Refuse {
        words: &'static [&'static str],
        server: bool,
    },
    /// kubectl connects as `user`, and we refuse on purpose (README, "Kubeconfig
    /// compatibility"); our error must name the cause as for [`Expect::Refuse`].
    Differs {
        user: &'static str,
        words: &'static [&'static str],
        server: bool,
    },
}

type Arrange = fn(PathBuf) -> Pin<Box<dyn Future<Output = Arranged> + Send>>;

struct Case {
    name: &'static str,
    kubectl: Expect,
    arrange: Arrange,
}

/// Where the clients find the kubeconfig.
enum Source {
    Flag(PathBuf),
    /// The value of `KUBECONFIG`.
    Env(String),
}

/// A case set up: the kubeconfig, the flags and environment both clients get, and
/// what runs for them.
struct Arranged {
    source: Source,
    context: Option<String>,
    /// What kubectl is asked instead of `get --raw METRICS_PATH`, where that would
    /// not ask the same question.
    kubectl_query: Option<&'static [&'static str]>,
    env: Vec<(&'static str, String)>,
    /// host:port of the API server, as an error should name it.
    server: String,
    stand_in: StandIn,
    proxy: Option<Proxy>,
}

/// What one client did.
struct Run {
    exit: Option<i32>,
    stdout: String,
    stderr: String,
    hits: Vec<Hit>,
    tunnels: Vec<Tunnel>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Connected { user: String, proxied: bool },
    Refused,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Connected { user, proxied } => {
                write!(f, "connected as {user}")?;
                if *proxied {
                    write!(f, " via proxy")?;
                }
                Ok(())
            }
            Verdict::Refused => write!(f, "refused"),
        }
    }
}

impl Run {
    /// Connected: the client exited 0 with the pod in its output, and the stand-in
    /// answered the PodMetrics list to an authenticated user.
    fn verdict(&self, ours: bool) -> Verdict {
        let printed_pod = if ours {
            serde_json::from_str::<Value>(&self.stdout)
                .ok()
                .and_then(|rows| rows.as_array().cloned())
                .is_some_and(|rows| rows.iter().any(|row| row["pod"] == POD))
        } else {
            self.stdout.contains(POD)
        };
        let user = self
            .hits
            .iter()
            .rev()
            .find(|hit| hit.path.split('?').next().unwrap().ends_with(METRICS_PATH))
            .and_then(|hit| hit.user.clone());
        match (self.exit, printed_pod, user) {
            (Some(0), true, Some(user)) => Verdict::Connected {
                user,
                proxied: self.tunnels.iter().any(|t| t.opened),
            },
            _ => Verdict::Refused,
        }
    }

    /// What the client said on stderr, on one line: for our binary the last error
    /// it logged, without the timestamp.
    fn said(&self) -> String {
        let last_error = self
            .stderr
            .lines()
            .filter_map(|line| line.split_once(" ERROR ").map(|(_, error)| error))
            .next_back();
        let text = match last_error {
            Some(error) => error.trim_start_matches("metrics_server_prom: ").to_owned(),
            None if self.stderr.trim().is_empty() => {
                format!("exit {:?}, nothing on stderr", self.exit)
            }
            None => self.stderr.clone(),
        };
        redacted(&text.split_whitespace().collect::<Vec<_>>().join(" ")).0
    }
}

/// Every secret in these cases carries one of these marks (a JWT starts `eyJ`), so
/// that output can be checked for them and printed without them.
const SECRET_MARKS: &[&str] = &["matrix-token-", "matrix-password-", "eyJ"];

/// `text` with every secret replaced, and whether there was one.
fn redacted(text: &str) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut found = false;
    while let Some((at, _)) = SECRET_MARKS
        .iter()
        .filter_map(|mark| rest.find(mark).map(|at| (at, mark)))
        .min()
    {
        found = true;
        out.push_str(&rest[..at]);
        out.push_str("<secret>");
        let end = rest[at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
            .map_or(rest.len(), |length| at + length);
        rest = &rest[end..];
    }
    out.push_str(rest);
    (out, found)
}

fn normalized(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

struct Row {
    name: &'static str,
    /// A case where we differ from kubectl on purpose.
    deliberate: bool,
    kubectl: Verdict,
    ours: Verdict,
    /// Why the case fails; empty when it passes.
    problems: Vec<String>,
    kubectl_said: String,
    ours_said: String,
    requests: String,
    seconds: f64,
}

fn judge(
    case: &Case,
    arranged: &Arranged,
    kubectl: &Run,
    ours: &Run,
) -> (Verdict, Verdict, Vec<String>) {
    let kubectl_verdict = kubectl.verdict(false);
    let ours_verdict = ours.verdict(true);
    let mut problems = Vec::new();
    if redacted(&ours.stderr).1 || redacted(&ours.stdout).1 {
        problems.push(format!(
            "our output shows a token or password: {}",
            ours.said()
        ));
    }
    match (case.kubectl, &kubectl_verdict) {
        (
            Expect::Connect(user) | Expect::Differs { user, .. },
            Verdict::Connected { user: seen, .. },
        ) if user == seen => {}
        (Expect::Refuse { .. }, Verdict::Refused) => {}
        (expected, _) => problems.push(format!(
            "kubectl did not do what this case records ({expected:?}), it {kubectl_verdict}: {}",
            kubectl.said()
        )),
    }
    let mut named = |words: &[&str], server: bool| {
        let said = normalized(&ours.stderr);
        if !words.iter().any(|word| said.contains(&normalized(word))) {
            problems.push(format!(
                "we refuse, but our error names none of {words:?}: {}",
                ours.said()
            ));
        }
        if server && !ours.stderr.contains(&arranged.server) {
            problems.push(format!(
                "we refuse, but our error does not name the server {}: {}",
                arranged.server,
                ours.said()
            ));
        }
    };
    match (case.kubectl, &kubectl_verdict, &ours_verdict) {
        (Expect::Differs { words, server, .. }, _, Verdict::Refused) => named(words, server),
        (Expect::Differs { .. }, _, ours_verdict) => problems.push(format!(
            "we differ from kubectl on purpose here and should refuse, but we {ours_verdict}"
        )),
        (Expect::Refuse { words, server }, Verdict::Refused, Verdict::Refused) => {
            named(words, server)
        }
        (_, kubectl_verdict, ours_verdict) if kubectl_verdict == ours_verdict => {}
        (_, kubectl_verdict, ours_verdict) => problems.push(format!(
            "kubectl {kubectl_verdict}, we {ours_verdict}: {}",
            ours.said()
        )),
    }
    (kubectl_verdict, ours_verdict, problems)
}

// ---------------------------------------------------------------------------------
// Running the two clients.

/// Runs `command` to completion, killing it (by its own id) after [`CLIENT_LIMIT`].
async fn output(mut command: Command) -> (Option<i32>, String, String) {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command
        .spawn()
        .unwrap_or_else(|error| panic!("starting {command:?}: {error}"));
    let pid = child.id();
    let waiting = tokio::task::spawn_blocking(move || child.wait_with_output());
    tokio::pin!(waiting);
    let finished = match tokio::time::timeout(CLIENT_LIMIT, &mut waiting).await {
        Ok(finished) => finished,
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            waiting.await
        }
    };
    let output = finished.unwrap().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The environment both clients start from: nothing of this machine's but PATH, a
/// HOME of the case's own, and the case's variables.
fn command(program: &str, dir: &Path, arranged: &Arranged) -> Command {
    let home = dir.join("home");
    let cwd = dir.join("cwd");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&cwd).unwrap();
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .current_dir(&cwd);
    for (name, value) in &arranged.env {
        command.env(name, value);
    }
    if let Source::Env(value) = &arranged.source {
        command.env("KUBECONFIG", value);
    }
    command
}

async fn run(dir: &Path, arranged: &Arranged, ours: bool) -> Run {
    let mut command = if ours {
        let mut command = command(BINARY, dir, arranged);
        command.args(["snapshot", "-o", "json", "--metrics.timeout", "5s"]);
        command
    } else {
        let mut command = command("kubectl", dir, arranged);
        match arranged.kubectl_query {
            Some(query) => command.args(query),
            None => command.args(["get", "--raw", METRICS_PATH]),
        };
        command.arg("--request-timeout=10s");
        command
    };
    if let Source::Flag(path) = &arranged.source {
        command.arg("--kubeconfig").arg(path);
    }
    if let Some(context) = &arranged.context {
        command.args(["--context", context]);
    }
    let hits_before = arranged.stand_in.hits().len();
    let tunnels_before = arranged.proxy.as_ref().map_or(0, |p| p.tunnels().len());
    let (exit, stdout, stderr) = output(command).await;
    Run {
        exit,
        stdout,
        stderr,
        hits: arranged.stand_in.hits().split_off(hits_before),
        tunnels: arranged
            .proxy
            .as_ref()
            .map(|p| p.tunnels().split_off(tunnels_before))
            .unwrap_or_default(),
    }
}

fn requests(label: &str, run: &Run) -> String {
    let hits: Vec<String> = run
        .hits
        .iter()
        .map(|hit| {
            let path = hit.path.split('?').next().unwrap();
            format!("{path} [{}]", hit.presented)
        })
        .collect();
    let tunnels: Vec<String> = run
        .tunnels
        .iter()
        .map(|t| format!("{}{}", t.target, if t.opened { "" } else { " (failed)" }))
        .collect();
    format!(
        "{label}: requests {hits:?}{}",
        if tunnels.is_empty() {
            String::new()
        } else {
            format!(", tunnels {tunnels:?}")
        }
    )
}

async fn run_case(case: &Case) -> Row {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let arranged = (case.arrange)(dir.path().to_owned()).await;
    let kubectl = run(dir.path(), &arranged, false).await;
    let ours = run(dir.path(), &arranged, true).await;
    let (kubectl_verdict, ours_verdict, problems) = judge(case, &arranged, &kubectl, &ours);
    Row {
        name: case.name,
        deliberate: matches!(case.kubectl, Expect::Differs { .. }),
        kubectl: kubectl_verdict,
        ours: ours_verdict,
        problems,
        kubectl_said: kubectl.said(),
        ours_said: ours.said(),
        requests: format!(
            "{}; {}",
            requests("kubectl", &kubectl),
            requests("ours", &ours)
        ),
        seconds: started.elapsed().as_secs_f64(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kubeconfig_matrix_agrees_with_kubectl() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    pki::openssl(Path::new("/"), &["version"]);
    let kubectl = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "the matrix needs kubectl, its oracle (Debian package kubernetes-client): {error}"
            )
        });
    assert!(kubectl.status.success(), "kubectl version --client failed");
    let kubectl_version = String::from_utf8_lossy(&kubectl.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();

    let started = Instant::now();
    let cases = Arc::new(cases());
    let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut tasks = Vec::new();
    for index in 0..cases.len() {
        let cases = cases.clone();
        let limit = limit.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            run_case(&cases[index]).await
        }));
    }
    let mut rows = Vec::new();
    for task in tasks {
        rows.push(task.await.expect("a case panicked"));
    }

    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let mut table = format!(
        "\nkubectl: {kubectl_version}\n{:<width$}  {:<28}  {:<28}  {}\n",
        "case", "kubectl", "metrics-server-prom", "agree"
    );
    for row in &rows {
        table.push_str(&format!(
            "{:<width$}  {:<28}  {:<28}  {}\n",
            row.name,
            row.kubectl.to_string(),
            row.ours.to_string(),
            match (row.problems.is_empty(), row.deliberate) {
                (true, false) => "yes",
                (true, true) => "differs on purpose",
                (false, _) => "NO",
            }
        ));
    }
    let failing: Vec<&Row> = rows.iter().filter(|r| !r.problems.is_empty()).collect();
    table.push_str(&format!(
        "\n{} cases, {} agree ({} of them differing on purpose), {} disagree, {:.1}s \
         (slowest case {:.1}s)\n",
        rows.len(),
        rows.len() - failing.len(),
        rows.iter()
            .filter(|r| r.deliberate && r.problems.is_empty())
            .count(),
        failing.len(),
        started.elapsed().as_secs_f64(),
        rows.iter().map(|r| r.seconds).fold(0.0, f64::max)
    ));
    println!("{table}");
    for row in &rows {
        println!(
            "{}\n  kubectl: {}\n  ours:    {}\n  {}\n",
            row.name, row.kubectl_said, row.ours_said, row.requests
        );
    }
    let report: Vec<String> = failing
        .iter()
        .map(|row| format!("- {}: {}", row.name, row.problems.join("; ")))
        .collect();
    assert!(
        failing.is_empty(),
        "{} of {} cases disagree with kubectl:\n{}",
        failing.len(),
        rows.len(),
        report.join("\n")
    );
}

// ---------------------------------------------------------------------------------
// Building arrangements.

fn base64(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.to_str().unwrap().to_owned()
}

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// A kubeconfig (JSON, which is YAML) with one cluster, one user and one context,
/// all named `matrix`, the current context.
fn kubeconfig(server: &str, cluster: &Map<String, Value>, user: &Map<String, Value>) -> String {
    let mut cluster = cluster.clone();
    cluster.insert("server".into(), json!(server));
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "matrix",
        "clusters": [{"name": "matrix", "cluster": cluster}],
        "users": [{"name": "matrix", "user": user}],
        "contexts": [{"name": "matrix", "context": {"cluster": "matrix", "user": "matrix"}}],
    })
    .to_string()
}

/// The common arrangement, changed by each case before [`Plan::start`]: a cluster CA
/// (written as `ca.pem`), a server certificate from it for 127.0.0.1 and localhost,
/// a rustls stand-in speaking TLS 1.2 and 1.3 that knows alice's token, and a
/// kubeconfig naming the CA file and the token.
struct Plan {
    dir: PathBuf,
    ca: Ca,
    ca_file: String,
    leaf: Leaf,
    versions: Versions,
    client_auth: ClientAuth,
    users: Users,
    /// Where the stand-in listens, and the host the kubeconfig names.
    address: std::net::IpAddr,
    host: &'static str,
    prefix: &'static str,
    cluster: Map<String, Value>,
    user: Map<String, Value>,
    env: Vec<(&'static str, String)>,
}

impl Plan {
    fn new(dir: PathBuf) -> Plan {
        let ca = Ca::root("matrix cluster CA");
        let leaf = ca.issue(&Spec::server());
        let ca_file = write(&dir, "ca.pem", &ca.cert_pem);
        Plan {
            cluster: fields(json!({"certificate-authority": ca_file})),
            user: fields(json!({"token": ALICE})),
            dir,
            ca,
            ca_file,
            leaf,
            versions: Versions::Both,
            client_auth: ClientAuth::Off,
            users: Users::default().token(ALICE, "alice"),
            address: std::net::Ipv4Addr::LOCALHOST.into(),
            host: "127.0.0.1",
            prefix: "",
            env: Vec::new(),
        }
    }

    fn tls(&self) -> Tls {
        Tls {
            address: self.address,
            chain: self.leaf.chain_der(),
            key: self.leaf.key_der(),
            versions: self.versions,
            client_auth: self.client_auth,
        }
    }

    /// The server certificate presented by `openssl s_server` with `args` instead.
    fn openssl_server(&self, args: &[&str]) -> StandIn {
        let (cert, key) = self.leaf.write(&self.dir, "served");
        StandIn::openssl(&self.dir, &cert, &key, args, self.users.clone())
    }

    async fn start(self) -> Arranged {
        let stand_in = StandIn::tls(self.tls(), self.users.clone(), self.prefix).await;
        self.finish(stand_in)
    }

    /// Writes the kubeconfig for `stand_in` and hands everything over.
    fn finish(self, stand_in: StandIn) -> Arranged {
        let server = format!("https://{}:{}{}", self.host, stand_in.port, self.prefix);
        let path = write(
            &self.dir,
            "kubeconfig",
            kubeconfig(&server, &self.cluster, &self.user),
        );
        Arranged {
            source: Source::Flag(path.into()),
            context: None,
            kubectl_query: None,
            env: self.env,
            server: format!("{}:{}", self.host, stand_in.port),
            stand_in,
            proxy: None,
        }
    }
}

macro_rules! arrange {
    (|$dir:ident| $body:block) => {
        |$dir: PathBuf| -> Pin<Box<dyn Future<Output = Arranged> + Send>> {
            Box::pin(async move $body)
        }
    };
}

/// Words that name a certificate the server showed and we could not trust.
const UNTRUSTED: &[&str] = &["UnknownIssuer", "unknown authority"];

fn connect(name: &'static str, user: &'static str, arrange: Arrange) -> Case {
    Case {
        name,
        kubectl: Expect::Connect(user),
        arrange,
    }
}

/// kubectl connects as `user`; we refuse on purpose, naming the cause in `words`.
fn differ(
    name: &'static str,
    user: &'static str,
    words: &'static [&'static str],
    arrange: Arrange,
) -> Case {
    Case {
        name,
        kubectl: Expect::Differs {
            user,
            words,
            server: true,
        },
        arrange,
    }
}

fn refuse(
    name: &'static str,
    words: &'static [&'static str],
    server: bool,
    arrange: Arrange,
) -> Case {
    Case {
        name,
        kubectl: Expect::Refuse { words, server },
        arrange,
    }
}

/// A server certificate made by openssl with `key`, signed by the plan's CA.
fn openssl_server_cert(plan: &Plan, key: OpensslKey, digest: &str) -> Leaf {
    plan.ca.issue_with_openssl(
        &plan.dir,
        &OpensslSpec {
            name: "server",
            subject: "/CN=matrix-apiserver",
            key,
            extensions: Some(pki::SERVER_EXTENSIONS),
            digest,
        },
    )
}

/// A plan whose user authenticates with a client certificate `leaf` (trusted as
/// `user` when `trusted`), from files or inline, and nothing else.
fn with_client_cert(mut plan: Plan, leaf: &Leaf, user: &str, trusted: bool, inline: bool) -> Plan {
    if trusted {
        plan.users = plan.users.cert(leaf.cert_der(), user);
    }
    plan.user = if inline {
        fields(json!({
            "client-certificate-data": base64(&leaf.cert_pem),
            "client-key-data": base64(&leaf.key_pem),
        }))
    } else {
        let (cert, key) = leaf.write(&plan.dir, "client");
        fields(json!({"client-certificate": cert, "client-key": key}))
    };
    plan
}

/// A plan reaching the stand-in as `https://kube.matrix.invalid:PORT` (a certificate
/// for that name) through a proxy of `kind`, with `env` and `cluster` fields set from
/// the proxy URL; with `login`, the proxy requires it and the URL carries it.
async fn through_proxy(
    dir: PathBuf,
    kind: Kind,
    env: &'static [&'static str],
    cluster_field: Option<&'static str>,
    login: Option<(&str, &str)>,
) -> Arranged {
    let mut plan = Plan::new(dir);
    plan.leaf = plan.ca.issue(&Spec::server().sans(&[PRIVATE_NAME]));
    plan.host = PRIVATE_NAME;
    let options = Options {
        names: Names::default().with(PRIVATE_NAME),
        remote: false,
        login: login.map(|(user, password)| (user.to_owned(), password.to_owned())),
    };
    let proxy = Proxy::start(kind, options).await;
    let scheme = match kind {
        Kind::Connect => "http",
        Kind::Socks5 => "socks5",
    };
    let userinfo = login.map_or(String::new(), |(user, password)| {
        format!("{user}:{password}@")
    });
    let url = format!("{scheme}://{userinfo}127.0.0.1:{}", proxy.port);
    for name in env {
        plan.env.push((name, url.clone()));
    }
    if let Some(field) = cluster_field {
        plan.cluster.insert(field.into(), json!(url));
    }
    let mut arranged = plan.start().await;
    arranged.proxy = Some(proxy);
    arranged
}

/// A server on `host` (a loopback address) with `HTTPS_PROXY` naming a proxy on
/// 127.0.0.1 that, like a corporate one, cannot reach this machine's loopback;
/// `no_proxy` as given.
async fn loopback_behind_remote_proxy(
    dir: PathBuf,
    host: &'static str,
    no_proxy: Option<&str>,
) -> Arranged {
    let mut plan = Plan::new(dir);
    plan.address = host.parse().unwrap();
    plan.host = host;
    plan.leaf = plan.ca.issue(&Spec::server().sans(&[host]));
    let options = Options {
        remote: true,
        ..Options::default()
    };
    let proxy = Proxy::start(Kind::Connect, options).await;
    plan.env
        .push(("HTTPS_PROXY", format!("http://127.0.0.1:{}", proxy.port)));
    if let Some(no_proxy) = no_proxy {
        plan.env.push(("NO_PROXY", no_proxy.to_owned()));
    }
    let mut arranged = plan.start().await;
    arranged.proxy = Some(proxy);
    arranged
}

/// An OIDC id-token (a JWT) for `subject` that expires in 2100; its signature is
/// not checked by anyone here.
fn id_token(subject: &str) -> String {
    use base64::Engine as _;
    let encode =
        |value: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.{}",
        encode(json!({"alg": "RS256", "typ": "JWT"})),
        encode(json!({"iss": "https://idp.matrix.invalid", "sub": subject,
            "aud": "kubernetes", "iat": 1767225600, "exp": 4102444800u64})),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"matrix-not-a-signature")
    )
}

/// An exec credential plugin: a shell script printing `status` as an ExecCredential
/// of client.authentication.k8s.io/`version` (v1, or v1beta1 as older plugins).
fn exec_plugin(dir: &Path, version: &str, status: Value) -> Value {
    let api_version = format!("client.authentication.k8s.io/{version}");
    let credential = json!({
        "apiVersion": api_version,
        "kind": "ExecCredential",
        "status": status,
    });
    let script = format!("#!/bin/sh\ncat <<'EOF'\n{credential}\nEOF\n");
    let path = write(dir, "credential-plugin.sh", script);
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut exec = json!({"apiVersion": api_version, "command": path});
    if version == "v1" {
        exec["interactiveMode"] = json!("Never");
    }
    json!({ "exec": exec })
}

// ---------------------------------------------------------------------------------
// The cases.

fn cases() -> Vec<Case> {
    vec![
        // Trust: where the CA comes from and what it looks like.
        connect(
            "CA file, inline token",
            "alice",
            arrange!(|dir| { Plan::new(dir).start().await }),
        ),
        connect(
            "CA inline data",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.cluster =
                    fields(json!({"certificate-authority-data": base64(&plan.ca.cert_pem)}));
                plan.start().await
            }),
        ),
        connect(
            "CA data with line breaks (YAML block scalar)",
            "alice",
            arrange!(|dir| {
                let plan = Plan::new(dir);
                let encoded = base64(&plan.ca.cert_pem);
                let lines: Vec<String> = encoded
                    .as_bytes()
                    .chunks(64)
                    .map(|chunk| format!("      {}", String::from_utf8_lossy(chunk)))
                    .collect();
                let dir = plan.dir.clone();
                let arranged = plan.start().await;
                let text = format!(
                    "apiVersion: v1\nkind: Config\ncurrent-context: matrix\nclusters:\n\
                 - name: matrix\n  cluster:\n    server: https://{}\n    \
                 certificate-authority-data: |\n{}\nusers:\n- name: matrix\n  user:\n    \
                 token: {ALICE}\ncontexts:\n- name: matrix\n  context:\n    cluster: matrix\n    \
                 user: matrix\n",
                    arranged.server,
                    lines.join("\n")
                );
                write(&dir, "kubeconfig", text);
                arranged
            }),
        ),
        connect(
            "CA bundle of several certificates",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                let bundle = format!(
                    "{}{}{}",
                    Ca::root("old cluster CA").cert_pem,
                    plan.ca.cert_pem,
                    Ca::root("front proxy CA").cert_pem
                );
                let file = write(&plan.dir, "bundle.pem", bundle);
                plan.cluster = fields(json!({"certificate-authority": file}));
                plan.start().await
            }),
        ),
        connect(
            "server's own self-signed leaf (no CA flag) as the CA",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = Spec::server().self_signed();
                plan.cluster =
                    fields(json!({"certificate-authority-data": base64(&plan.leaf.cert_pem)}));
                plan.start().await
            }),
        ),
        connect(
            "server's CA-issued leaf pinned as the CA (Rancher/RKE2 download, Let's Encrypt)",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                let public = Ca::root("public root CA");
                let issuing = public.intermediate("public issuing CA R11");
                plan.leaf = issuing.issue(&Spec::server()).with_intermediate(&issuing);
                plan.cluster =
                    fields(json!({"certificate-authority-data": base64(&plan.leaf.cert_pem)}));
                plan.start().await
            }),
        ),
        connect(
            "openssl req -x509 certificate (CA:TRUE) as server and CA",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = pki::openssl_req_x509(&plan.dir, "homelab");
                let file = write(&plan.dir, "homelab-ca.pem", &plan.leaf.cert_pem);
                plan.cluster = fields(json!({"certificate-authority": file}));
                plan.start().await
            }),
        ),
        connect(
            "server certificate with CA:TRUE issued by the cluster CA",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan.ca.issue(&Spec::server().ca());
                plan.start().await
            }),
        ),
        connect(
            "intermediate CA sent by the server, root in kubeconfig",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                let intermediate = plan.ca.intermediate("matrix intermediate CA");
                plan.leaf = intermediate
                    .issue(&Spec::server())
                    .with_intermediate(&intermediate);
                plan.start().await
            }),
        ),
        connect(
            "intermediate CA as the only trusted certificate",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                let intermediate = plan.ca.intermediate("matrix intermediate CA");
                plan.leaf = intermediate
                    .issue(&Spec::server())
                    .with_intermediate(&intermediate);
                let file = write(&plan.dir, "intermediate.pem", &intermediate.cert_pem);
                plan.cluster = fields(json!({"certificate-authority": file}));
                plan.start().await
            }),
        ),
        connect(
            "certificate-authority path relative to the kubeconfig",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.cluster = fields(json!({"certificate-authority": "ca.pem"}));
                plan.start().await
            }),
        ),
        connect(
            "IP address SAN only",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan.ca.issue(&Spec::server().sans(&["127.0.0.1"]));
                plan.start().await
            }),
        ),
        connect(
            "IPv6 loopback server [::1]",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan.ca.issue(&Spec::server().sans(&["::1"]));
                plan.address = std::net::Ipv6Addr::LOCALHOST.into();
                plan.host = "[::1]";
                plan.start().await
            }),
        ),
        connect(
            "DNS name localhost",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan.ca.issue(&Spec::server().sans(&["localhost"]));
                plan.host = "localhost";
                plan.start().await
            }),
        ),
        connect(
            "tls-server-name naming the certificate's DNS name",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan
                    .ca
                    .issue(&Spec::server().sans(&["kubernetes.default.svc"]));
                plan.cluster
                    .insert("tls-server-name".into(), json!("kubernetes.default.svc"));
                plan.start().await
            }),
        ),
        connect(
            "insecure-skip-tls-verify with a wrong-name certificate",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf =
                    Ca::root("someone else").issue(&Spec::server().sans(&["wrong.example"]));
                plan.cluster = fields(json!({"insecure-skip-tls-verify": true}));
                plan.start().await
            }),
        ),
        // Go requires a SAN, which a v1 certificate cannot carry.
        refuse(
            "X.509 v1 server certificate",
            &[
                "UnsupportedCertVersion",
                "Common Name",
                "not valid for name",
            ],
            true,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan.ca.issue_with_openssl(
                    &plan.dir,
                    &OpensslSpec {
                        name: "server-v1",
                        subject: "/CN=127.0.0.1",
                        key: OpensslKey::P256,
                        extensions: None,
                        digest: "sha256",
                    },
                );
                plan.start().await
            }),
        ),
        // client-go sends no credentials to a plain-HTTP server (it applies the user
        // only "if we are secure"), so over `kubectl proxy` kubectl is anonymous.
        connect(
            "plain HTTP server that serves anonymous requests (kubectl proxy)",
            "system:anonymous",
            arrange!(|dir| {
                let plan = Plan::new(dir);
                let stand_in =
                    StandIn::plain(plan.users.clone().anonymous("system:anonymous")).await;
                let server = format!("http://127.0.0.1:{}", stand_in.port);
                let path = write(
                    &plan.dir,
                    "kubeconfig",
                    kubeconfig(&server, &Map::new(), &plan.user),
                );
                Arranged {
                    source: Source::Flag(path.into()),
                    context: None,
                    kubectl_query: None,
                    env: Vec::new(),
                    server: format!("127.0.0.1:{}", stand_in.port),
                    stand_in,
                    proxy: None,
                }
            }),
        ),
        // `kubectl get --raw PATH` sends PATH as is, dropping the server URL's path, so
        // kubectl is asked with `top pod`, which keeps it.
        connect(
            "server URL with a path prefix (Rancher), asked with kubectl top",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.prefix = "/k8s/clusters/c-m-7xk2p";
                let mut arranged = plan.start().await;
                arranged.kubectl_query = Some(&["top", "pod", "--all-namespaces"]);
                arranged
            }),
        ),
        // Who the user is.
        connect(
            "tokenFile",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                let file = write(&plan.dir, "token", ALICE);
                plan.user = fields(json!({"tokenFile": file}));
                plan.start().await
            }),
        ),
        connect(
            "tokenFile ending in a newline",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                let file = write(&plan.dir, "token", format!("{ALICE}\n"));
                plan.user = fields(json!({"tokenFile": file}));
                plan.start().await
            }),
        ),
        connect(
            "token and tokenFile both set",
            "file-user",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                let file = write(&plan.dir, "token", "matrix-token-from-file-91c2");
                plan.users = Users::default()
                    .token("matrix-token-inline-4d7a", "inline-user")
                    .token("matrix-token-from-file-91c2", "file-user");
                plan.user = fields(json!({"token": "matrix-token-inline-4d7a", "tokenFile": file}));
                plan.start().await
            }),
        ),
        connect(
            "basic auth username and password",
            "admin",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.users = Users::default().basic("admin", "matrix-password-8e21", "admin");
                plan.user =
                    fields(json!({"username": "admin", "password": "matrix-password-8e21"}));
                plan.start().await
            }),
        ),
        connect(
            "client certificate and key files",
            "carol",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.client_auth = ClientAuth::Optional;
                let client = plan.ca.issue(&Spec::client("carol"));
                with_client_cert(plan, &client, "carol", true, false)
                    .start()
                    .await
            }),
        ),
        connect(
            "client certificate and key inline",
            "carol",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.client_auth = ClientAuth::Optional;
                let client = plan.ca.issue(&Spec::client("carol"));
                with_client_cert(plan, &client, "carol", true, true)
                    .start()
                    .await
            }),
        ),
        connect(
            "X.509 v1 client certificate, server requires one (MicroK8s)",
            "admin",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.client_auth = ClientAuth::Required;
                let client = plan.ca.issue_with_openssl(
                    &plan.dir,
                    &OpensslSpec {
                        name: "client-v1",
                        subject: "/CN=admin/O=system:masters",
                        key: OpensslKey::Rsa(2048),
                        extensions: None,
                        digest: "sha256",
                    },
                );
                with_client_cert(plan, &client, "admin", true, true)
                    .start()
                    .await
            }),
        ),
        connect(
            "client key in PKCS#1 RSA PRIVATE KEY form (kubeadm)",
            "kubernetes-admin",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.client_auth = ClientAuth::Optional;
                let mut client = plan.ca.issue_with_openssl(&plan.dir, &OpensslSpec {
                name: "client-rsa",
                subject: "/CN=kubernetes-admin/O=system:masters",
                key: OpensslKey::Rsa(2048),
                extensions: Some("keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"),
                digest: "sha256",
            });
                client.key_pem =
                    pki::traditional_key(&plan.dir, "client-rsa", &client.key_pem, true);
                with_client_cert(plan, &client, "kubernetes-admin", true, true)
                    .start()
                    .await
            }),
        ),
        connect(
            "client key in SEC1 EC PRIVATE KEY form (k3s)",
            "k3s-admin",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.client_auth = ClientAuth::Optional;
                let mut client = plan.ca.issue(&Spec::client("k3s-admin"));
                client.key_pem =
                    pki::traditional_key(&plan.dir, "client-ec", &client.key_pem, false);
                with_client_cert(plan, &client, "k3s-admin", true, true)
                    .start()
                    .await
            }),
        ),
        connect(
            "exec credential plugin printing a token",
            "exec-user",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.users = Users::default().token("matrix-token-exec-0f3b", "exec-user");
                plan.user = fields(exec_plugin(
                    &plan.dir,
                    "v1",
                    json!({"token": "matrix-token-exec-0f3b"}),
                ));
                plan.start().await
            }),
        ),
        connect(
            "exec credential plugin of client.authentication.k8s.io/v1beta1",
            "exec-user",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.users = Users::default().token("matrix-token-exec-0f3b", "exec-user");
                plan.user = fields(exec_plugin(
                    &plan.dir,
                    "v1beta1",
                    json!({"token": "matrix-token-exec-0f3b"}),
                ));
                plan.start().await
            }),
        ),
        connect(
            "auth-provider oidc with a current id-token",
            "olivia",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                let token = id_token("olivia");
                plan.users = Users::default().token(&token, "olivia");
                plan.user = fields(json!({"auth-provider": {"name": "oidc", "config": {
                    "client-id": "kubernetes",
                    "idp-issuer-url": "https://idp.matrix.invalid",
                    "id-token": token,
                }}}));
                plan.start().await
            }),
        ),
        connect(
            "impersonation (as: bob)",
            "bob",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.user.insert("as".into(), json!("bob"));
                plan.start().await
            }),
        ),
        connect(
            "exec credential plugin printing a client certificate",
            "exec-cert-user",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.client_auth = ClientAuth::Optional;
                let client = plan.ca.issue(&Spec::client("exec-cert-user"));
                plan.users = Users::default().cert(client.cert_der(), "exec-cert-user");
                plan.user = fields(exec_plugin(
                    &plan.dir,
                    "v1",
                    json!({
                        "clientCertificateData": client.cert_pem,
                        "clientKeyData": client.key_pem,
                    }),
                ));
                plan.start().await
            }),
        ),
        // Server keys, signatures and TLS versions.
        connect(
            "RSA-2048 server key",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = openssl_server_cert(&plan, OpensslKey::Rsa(2048), "sha256");
                plan.start().await
            }),
        ),
        connect(
            "RSA-4096 server key",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = openssl_server_cert(&plan, OpensslKey::Rsa(4096), "sha256");
                plan.start().await
            }),
        ),
        // rustls verifies no RSA key below 2048 bits (Go 1.23 still does 1024).
        differ(
            "RSA-1024 server key (openssl s_server)",
            "alice",
            &["1024-bit RSA key", "2048 bits"],
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = openssl_server_cert(&plan, OpensslKey::Rsa(1024), "sha256");
                let stand_in = plan.openssl_server(&["-cipher", "DEFAULT:@SECLEVEL=0"]);
                plan.finish(stand_in)
            }),
        ),
        connect(
            "EC P-256 server key",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan.ca.issue(&Spec::server().key(KeyKind::P256));
                plan.start().await
            }),
        ),
        connect(
            "EC P-384 server key",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan.ca.issue(&Spec::server().key(KeyKind::P384));
                plan.start().await
            }),
        ),
        connect(
            "EC P-521 server key (openssl s_server)",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = openssl_server_cert(&plan, OpensslKey::P521, "sha512");
                let stand_in = plan.openssl_server(&[]);
                plan.finish(stand_in)
            }),
        ),
        connect(
            "Ed25519 server key",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan.ca.issue(&Spec::server().key(KeyKind::Ed25519));
                plan.start().await
            }),
        ),
        connect(
            "TLS 1.2 only",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.versions = Versions::Tls12;
                plan.start().await
            }),
        ),
        // rustls implements no CBC cipher suite.
        differ(
            "TLS 1.2 with CBC suites only (openssl s_server)",
            "alice",
            &["CBC cipher suites"],
            arrange!(|dir| {
                let plan = Plan::new(dir);
                let stand_in = plan.openssl_server(&[
                    "-tls1_2",
                    "-cipher",
                    "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA",
                ]);
                plan.finish(stand_in)
            }),
        ),
        connect(
            "TLS 1.3 only",
            "alice",
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.versions = Versions::Tls13;
                plan.start().await
            }),
        ),
        // Which kubeconfig, which context.
        connect(
            "KUBECONFIG=a:b where b does not exist",
            "alice",
            arrange!(|dir| {
                let plan = Plan::new(dir.clone());
                let mut arranged = plan.start().await;
                let Source::Flag(path) = &arranged.source else {
                    unreachable!()
                };
                let missing = dir.join("does-not-exist");
                arranged.source = Source::Env(format!("{}:{}", path.display(), missing.display()));
                arranged
            }),
        ),
        connect(
            "KUBECONFIG=a:b merged, cluster in a and user in b",
            "alice",
            arrange!(|dir| {
                let plan = Plan::new(dir.clone());
                let ca_file = plan.ca_file.clone();
                let mut arranged = plan.start().await;
                let a = write(&dir, "a.yaml", json!({
                "apiVersion": "v1", "kind": "Config", "current-context": "matrix",
                "clusters": [{"name": "matrix", "cluster": {
                    "server": format!("https://{}", arranged.server),
                    "certificate-authority": ca_file}}],
                "contexts": [{"name": "matrix", "context": {"cluster": "matrix", "user": "matrix"}}],
            }).to_string());
                let b = write(
                    &dir,
                    "b.yaml",
                    json!({
                        "apiVersion": "v1", "kind": "Config",
                        "users": [{"name": "matrix", "user": {"token": ALICE}}],
                    })
                    .to_string(),
                );
                arranged.source = Source::Env(format!("{a}:{b}"));
                arranged
            }),
        ),
        connect(
            "--context selecting a context that is not current",
            "alice",
            arrange!(|dir| {
                let plan = Plan::new(dir.clone());
                let ca_file = plan.ca_file.clone();
                let mut arranged = plan.start().await;
                let path = write(
                    &dir,
                    "kubeconfig",
                    json!({
                        "apiVersion": "v1", "kind": "Config", "current-context": "stale",
                        "clusters": [{"name": "matrix", "cluster": {
                            "server": format!("https://{}", arranged.server),
                            "certificate-authority": ca_file}}],
                        "users": [
                            {"name": "revoked", "user": {"token": "matrix-token-revoked-77aa"}},
                            {"name": "alice", "user": {"token": ALICE}},
                        ],
                        "contexts": [
                            {"name": "stale", "context": {"cluster": "matrix", "user": "revoked"}},
                            {"name": "working", "context": {"cluster": "matrix", "user": "alice"}},
                        ],
                    })
                    .to_string(),
                );
                arranged.source = Source::Flag(path.into());
                arranged.context = Some("working".into());
                arranged
            }),
        ),
        // Proxies.
        connect(
            "HTTPS_PROXY set, NO_PROXY covering 127.0.0.1",
            "alice",
            arrange!(|dir| {
                loopback_behind_remote_proxy(dir, "127.0.0.1", Some("127.0.0.1")).await
            }),
        ),
        connect(
            "HTTPS_PROXY set, NO_PROXY as a CIDR 127.0.0.0/8",
            "alice",
            arrange!(|dir| {
                loopback_behind_remote_proxy(dir, "127.0.0.1", Some("127.0.0.0/8")).await
            }),
        ),
        connect(
            "HTTPS_PROXY set, loopback server, no NO_PROXY (kind behind a corporate proxy)",
            "alice",
            arrange!(|dir| { loopback_behind_remote_proxy(dir, "127.0.0.1", None).await }),
        ),
        // The proxy listens on 127.0.0.1, the server on 127.0.0.2: NO_PROXY must be
        // matched against the server, not the proxy.
        connect(
            "HTTPS_PROXY on 127.0.0.1, server on 127.0.0.2, NO_PROXY=127.0.0.2",
            "alice",
            arrange!(|dir| {
                loopback_behind_remote_proxy(dir, "127.0.0.2", Some("127.0.0.2")).await
            }),
        ),
        connect(
            "HTTPS_PROXY: HTTP CONNECT proxy to a private name",
            "alice",
            arrange!(|dir| {
                through_proxy(dir, Kind::Connect, &["HTTPS_PROXY"], None, None).await
            }),
        ),
        connect(
            "https_proxy (lowercase): HTTP CONNECT proxy to a private name",
            "alice",
            arrange!(|dir| {
                through_proxy(dir, Kind::Connect, &["https_proxy"], None, None).await
            }),
        ),
        connect(
            "proxy-url: http:// in the cluster",
            "alice",
            arrange!(|dir| {
                through_proxy(dir, Kind::Connect, &[], Some("proxy-url"), None).await
            }),
        ),
        connect(
            "proxy-url: socks5:// in the cluster",
            "alice",
            arrange!(|dir| {
                through_proxy(dir, Kind::Socks5, &[], Some("proxy-url"), None).await
            }),
        ),
        connect(
            "HTTPS_PROXY with a login in its URL, proxy requires it",
            "alice",
            arrange!(|dir| {
                let login = ("matrix-proxy-user", "matrix-password-proxy-2c");
                through_proxy(dir, Kind::Connect, &["HTTPS_PROXY"], None, Some(login)).await
            }),
        ),
        // Certificates that must not be trusted.
        refuse(
            "expired server certificate",
            &["expired"],
            true,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan.ca.issue(&Spec::server().validity(Validity::Expired));
                plan.start().await
            }),
        ),
        refuse(
            "server certificate not yet valid",
            &["NotValidYet", "not yet valid"],
            true,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan.ca.issue(&Spec::server().validity(Validity::NotYet));
                plan.start().await
            }),
        ),
        refuse(
            "server certificate for another name",
            &["not valid for name", "valid for"],
            true,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan.ca.issue(&Spec::server().sans(&["other.example"]));
                plan.start().await
            }),
        ),
        refuse(
            "server certificate from an unknown issuer",
            UNTRUSTED,
            true,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = Ca::root("someone else's CA").issue(&Spec::server());
                plan.start().await
            }),
        ),
        refuse(
            "server certificate signed with SHA-1",
            &["SignatureAlgorithm", "SHA1"],
            true,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = openssl_server_cert(&plan, OpensslKey::Rsa(2048), "sha1");
                plan.start().await
            }),
        ),
        refuse(
            "server certificate for clientAuth only",
            &["purpose", "key usage", "KeyUsage"],
            true,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan
                    .ca
                    .issue(&Spec::server().usage(vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth]));
                plan.start().await
            }),
        ),
        refuse(
            "server certificate with only a common name, no SAN",
            &["not valid for name", "valid for", "Common Name"],
            true,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.leaf = plan.ca.issue_with_openssl(
                    &plan.dir,
                    &OpensslSpec {
                        name: "server-cn-only",
                        subject: "/CN=127.0.0.1",
                        key: OpensslKey::P256,
                        extensions: Some(
                            "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
                        ),
                        digest: "sha256",
                    },
                );
                plan.start().await
            }),
        ),
        refuse(
            "no client certificate, server requires one",
            &["CertificateRequired", "certificate required"],
            true,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.client_auth = ClientAuth::Required;
                plan.user = Map::new();
                plan.start().await
            }),
        ),
        refuse(
            "client certificate from an untrusted CA",
            &["401", "Unauthorized"],
            true,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.client_auth = ClientAuth::Optional;
                let client = Ca::root("rogue CA").issue(&Spec::client("mallory"));
                with_client_cert(plan, &client, "mallory", false, false)
                    .start()
                    .await
            }),
        ),
        // Files a kubeconfig names that are not there.
        refuse(
            "certificate-authority file missing",
            &["No such file"],
            false,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                let missing = plan.dir.join("gone").join("ca.crt");
                plan.cluster = fields(json!({"certificate-authority": missing}));
                plan.start().await
            }),
        ),
        refuse(
            "tokenFile missing",
            &["No such file"],
            false,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                let missing = plan.dir.join("gone").join("token");
                plan.user = fields(json!({"tokenFile": missing}));
                plan.start().await
            }),
        ),
        // Kubeconfigs that contradict themselves.
        refuse(
            "insecure-skip-tls-verify together with a CA",
            &["insecure"],
            false,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.cluster
                    .insert("insecure-skip-tls-verify".into(), json!(true));
                plan.start().await
            }),
        ),
        refuse(
            "certificate-authority and certificate-authority-data both set",
            &["certificate-authority-data"],
            false,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                let other = write(&plan.dir, "other-ca.pem", Ca::root("other CA").cert_pem);
                plan.cluster = fields(json!({
                    "certificate-authority": other,
                    "certificate-authority-data": base64(&plan.ca.cert_pem),
                }));
                plan.start().await
            }),
        ),
        refuse(
            "client certificate both inline and as a file",
            &["client-certificate-data", "client-cert-data"],
            false,
            arrange!(|dir| {
                let mut plan = Plan::new(dir);
                plan.client_auth = ClientAuth::Optional;
                let client = plan.ca.issue(&Spec::client("carol"));
                let (cert, key) = client.write(&plan.dir, "client");
                plan.users = plan.users.cert(client.cert_der(), "carol");
                plan.user = fields(json!({
                    "client-certificate": cert,
                    "client-key": key,
                    "client-certificate-data": base64(&client.cert_pem),
                    "client-key-data": base64(&client.key_pem),
                }));
                plan.start().await
            }),
        ),
    ]
}
