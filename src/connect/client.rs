//! The kube client, built from kube's public pieces the way `kube::Client::try_from`
//! builds it (base URI, gzip, retries where the config asks, authentication, extra
//! headers, kube's tracing span per request, connect/read/write timeouts), with four
//! parts of our own that kube offers no hook for:
//!
//! - the TLS configuration of `super::tls` (Go's verification rules, v1 client
//!   certificates);
//! - the proxy [`super::proxy`] chose (HTTP CONNECT, over TLS, or SOCKS5), not kube's;
//! - a `tokenFile` read as client-go reads it (`super::token_file`);
//! - a pause before a watch when the one before it was cut off at once
//!   (`super::watch_pacing`);
//!
//! and connection errors that name the server, the proxy and the problem
//! ([`super::errors`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::client::legacy::connect::{Connection, HttpConnector};
use hyper_util::rt::TokioExecutor;
use kube::client::retry::RetryPolicy;
use kube::client::{Body, ClientBuilder, ConfigExt as _};
use rustls::pki_types::ServerName;
use tower::retry::RetryLayer;
use tower::{BoxError, ServiceBuilder};
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::decompression::DecompressionLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use super::errors::{ClosedAfterCertRequest, ConnectError};
use super::proxy::{ProxyKind, ProxyUrl};
use super::tls::{self, ClientIdentity, UnansweredCertRequests};
use super::token_file::{TokenFile, TokenFileLayer};
use super::watch_pacing::WatchPacing;

/// What a kube client needs beyond `kube::Config`.
#[derive(Debug, Default)]
pub struct Transport {
    pub proxy: Option<ProxyUrl>,
    /// The kubeconfig's client certificate, sent by our TLS configuration.
    pub identity: Option<ClientIdentity>,
    /// The kubeconfig's `tokenFile`, shared by every client of one connection.
    pub token_file: Option<Arc<TokenFile>>,
}

/// A kube client for `config` (its timeouts, retries, auth) over `transport`.
pub fn build(config: &kube::Config, transport: &Transport) -> anyhow::Result<kube::Client> {
    let unanswered = Arc::new(UnansweredCertRequests::default());
    let tls = tls::client_config(config, transport.identity.as_ref(), &unanswered)?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let proxy = transport.proxy.as_ref();
    match proxy.and_then(|p| Some((p, p.kind()?))) {
        None => finish(config, transport, &unanswered, https(config, tls, http)?),
        Some((proxy, ProxyKind::Connect)) => {
            let tunnel = tunnel(proxy, http)?;
            finish(config, transport, &unanswered, https(config, tls, tunnel)?)
        }
        Some((proxy, ProxyKind::ConnectOverTls)) => {
            // Go speaks to an https:// proxy with the same TLS configuration.
            let to_proxy = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls.clone())
                .https_or_http()
                .enable_http1()
                .wrap_connector(http);
            let tunnel = tunnel(proxy, to_proxy)?;
            finish(config, transport, &unanswered, https(config, tls, tunnel)?)
        }
        Some((proxy, ProxyKind::Socks5)) => {
            // Names are resolved by the proxy, as Go's SOCKS5 dialer has them resolved.
            let mut socks = SocksV5::new(proxy.dial_uri(), http).local_dns(false);
            if let Some((user, password)) = proxy.login() {
                socks = socks.with_auth(user, password);
            }
            finish(config, transport, &unanswered, https(config, tls, socks)?)
        }
    }
}

/// An HTTP CONNECT tunnel through `proxy`, logging in with the URL's userinfo.
fn tunnel<C>(proxy: &ProxyUrl, connector: C) -> anyhow::Result<Tunnel<C>> {
    let mut tunnel = Tunnel::new(proxy.dial_uri(), connector);
    if let Some((user, password)) = proxy.login() {
        use base64::Engine as _;
        let login = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut value = http::HeaderValue::try_from(format!("Basic {login}"))
            .with_context(|| format!("the login of the proxy {proxy}"))?;
        value.set_sensitive(true);
        tunnel = tunnel.with_auth(value);
    }
    Ok(tunnel)
}

/// TLS over `connector` for `https://` servers, checking the certificate against
/// `tls-server-name` where the kubeconfig gives one.
fn https<C>(
    config: &kube::Config,
    tls: rustls::ClientConfig,
    connector: C,
) -> anyhow::Result<hyper_rustls::HttpsConnector<C>> {
    let mut builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    if let Some(name) = &config.tls_server_name {
        let name = ServerName::try_from(name.clone())
            .with_context(|| format!("tls-server-name {name:?} is not a DNS name or IP"))?;
        builder =
            builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
    }
    Ok(builder.enable_http1().wrap_connector(connector))
}

/// The rest of kube's stack over `connector`.
fn finish<C>(
    config: &kube::Config,
    transport: &Transport,
    unanswered: &Arc<UnansweredCertRequests>,
    connector: C,
) -> anyhow::Result<kube::Client>
where
    C: tower::Service<Uri> + Clone + Send + Sync + 'static,
    C::Response: hyper::rt::Read + hyper::rt::Write + Connection + Send + Unpin + 'static,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    let mut timed = hyper_timeout::TimeoutConnector::new(connector);
    timed.set_connect_timeout(config.connect_timeout);
    timed.set_read_timeout(config.read_timeout);
    timed.set_write_timeout(config.write_timeout);
    timed.set_reset_reader_on_write(config.reset_reader_on_write);
    let explained = Explained {
        inner: timed,
        server: Arc::from(config.cluster_url.to_string()),
        proxy: transport.proxy.clone().map(Arc::new),
    };
    let client: hyper_util::client::legacy::Client<_, Body> =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(explained);
    let service = ServiceBuilder::new()
        .layer(WatchPacing::default())
        .layer(config.base_uri_layer())
        .layer(
            DecompressionLayer::new()
                .no_br()
                .no_deflate()
                .no_zstd()
                .gzip(!config.disable_compression),
        )
        .option_layer(
            config
                .default_retry
                .then(|| RetryLayer::new(RetryPolicy::server_retry())),
        )
        // Before kube's own authentication, so that whatever else the user sets
        // (exec, auth-provider) is what kube sends, as before.
        .option_layer(transport.token_file.clone().map(TokenFileLayer))
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .layer(kube_trace_layer())
        .map_err(BoxError::from)
        .service(client);
    let unanswered = unanswered.clone();
    let service = tower::ServiceExt::map_err(service, move |error: BoxError| {
        ClosedAfterCertRequest::explain(error, unanswered.happened())
    });
    Ok(ClientBuilder::new(service, config.default_namespace.clone()).build())
}

/// kube's per-request tracing span and events, as `kube::Client::try_from` installs
/// them (the URL, never a header).
#[allow(clippy::type_complexity)]
fn kube_trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    fn(&Request<Body>) -> Span,
    fn(&Request<Body>, &Span),
    fn(&Response<Incoming>, Duration, &Span),
    (),
    fn(Option<&http::HeaderMap>, Duration, &Span),
    fn(ServerErrorsFailureClass, Duration, &Span),
> {
    fn make_span(request: &Request<Body>) -> Span {
        tracing::debug_span!(
            "HTTP",
            http.method = %request.method(),
            http.url = %request.uri(),
            http.status_code = tracing::field::Empty,
            otel.name = request.extensions().get::<&'static str>().unwrap_or(&"HTTP"),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
        )
    }
    fn on_request(_request: &Request<Body>, _span: &Span) {
        tracing::debug!("requesting");
    }
    fn on_response(response: &Response<Incoming>, _latency: Duration, span: &Span) {
        let status = response.status();
        span.record("http.status_code", status.as_u16());
        if status.is_client_error() || status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
    }
    fn on_eos(_trailers: Option<&http::HeaderMap>, _duration: Duration, _span: &Span) {
        tracing::debug!("stream closed");
    }
    fn on_failure(class: ServerErrorsFailureClass, _latency: Duration, span: &Span) {
        span.record("otel.status_code", "ERROR");
        match class {
            ServerErrorsFailureClass::StatusCode(status) => {
                span.record("http.status_code", status.as_u16());
                tracing::error!("failed with status {}", status)
            }
            ServerErrorsFailureClass::Error(error) => {
                tracing::error!("failed with error {}", error)
            }
        }
    }
    TraceLayer::new_for_http()
        .make_span_with(make_span as fn(&Request<Body>) -> Span)
        .on_request(on_request as fn(&Request<Body>, &Span))
        .on_response(on_response as fn(&Response<Incoming>, Duration, &Span))
        .on_body_chunk(())
        .on_eos(on_eos as fn(Option<&http::HeaderMap>, Duration, &Span))
        .on_failure(on_failure as fn(ServerErrorsFailureClass, Duration, &Span))
}

/// A connector whose failures say which server, which proxy and what went wrong.
#[derive(Clone)]
struct Explained<C> {
    inner: C,
    server: Arc<str>,
    proxy: Option<Arc<ProxyUrl>>,
}

impl<C> tower::Service<Uri> for Explained<C>
where
    C: tower::Service<Uri>,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = C::Response;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, ConnectError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|error| ConnectError::new(&self.server, self.proxy.as_deref(), error.into()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let server = self.server.clone();
        let proxy = self.proxy.clone();
        Box::pin(async move {
            connecting
                .await
                .map_err(|error| ConnectError::new(&server, proxy.as_deref(), error.into()))
        })
    }
}
