//! Serving the endpoint: one accept loop for plain HTTP or TLS, and the protections
//! around what [`super::routes`] serves.
//!
//! - At most `--web.max-connections` connections are open; past that, new ones wait in
//!   the listen backlog, as with Prometheus' own flag of that name.
//! - A client has `--web.read-header-timeout` for its TLS handshake and for each
//!   request's head, so one that opens a connection and trickles bytes is cut off.
//! - At most `--web.max-requests` requests are handled at once, authentication
//!   included; the rest wait their turn. Request bodies are refused (no endpoint reads
//!   one) and request heads are bounded.
//! - Basic auth, when the web config has users, covers every path.
//! - On shutdown the listener closes, in-flight requests finish, and after
//!   `--web.shutdown-timeout` the server returns whatever is still open.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::limit::RequestBodyLimitLayer;

use crate::config::WebArgs;
use crate::web::basic_auth::{self, BasicAuth};
use crate::web::tls::Tls;
use crate::web::web_config::WebConfig;

/// The largest request body accepted: the endpoints take none.
const MAX_REQUEST_BODY: usize = 1024;

/// Read buffer of a connection, which bounds a request's head (hyper's smallest is 8 KiB).
const MAX_REQUEST_HEAD: usize = 64 * 1024;

pub struct WebServer {
    args: WebArgs,
    tls: Option<Arc<Tls>>,
    auth: Option<BasicAuth>,
}

impl WebServer {
    /// Reads the web config file, if any, and its certificates; errors stop the start.
    pub fn new(args: &WebArgs) -> anyhow::Result<WebServer> {
        let config = match &args.config_file {
            Some(path) => WebConfig::load(path)?,
            None => WebConfig::default(),
        };
        let tls = config.tls.map(Tls::new).transpose()?.map(Arc::new);
        let auth = match config.users.is_empty() {
            true => None,
            false => Some(BasicAuth::new(config.users)?),
        };
        if auth.is_some() && tls.is_none() {
            tracing::warn!(
                "basic auth is configured without TLS: passwords cross the network in clear text"
            );
        }
        Ok(WebServer {
            args: args.clone(),
            tls,
            auth,
        })
    }

    /// `https` when TLS is configured, else `http`.
    pub fn scheme(&self) -> &'static str {
        match self.tls {
            Some(_) => "https",
            None => "http",
        }
    }

    /// Serves `router` until `shutdown` resolves, then lets in-flight requests finish
    /// for at most `--web.shutdown-timeout`.
    pub async fn serve(
        self,
        listeners: Vec<TcpListener>,
        router: Router,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let app = self.protect(router);
        let connections = Arc::new(Semaphore::new(self.args.max_connections as usize));
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, permit) = tokio::select! {
                () = &mut shutdown => break,
                accepted = accept(&listeners, &connections) => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        accept_failed(error).await;
                        continue;
                    }
                },
            };
            let connection = IncomingConnection {
                app: app.clone(),
                tls: self.tls.clone(),
                header_timeout: self.args.read_header_timeout,
                watcher: graceful.watcher(),
            };
            tokio::spawn(async move {
                connection.serve(stream).await;
                drop(permit);
            });
        }
        drop(listeners);
        tracing::info!(
            open_connections = graceful.count(),
            "stopped accepting connections; waiting for in-flight requests"
        );
        let timeout = self.args.shutdown_timeout;
        if tokio::time::timeout(timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                "requests still in flight after --web.shutdown-timeout ({timeout:?}); exiting anyway"
            );
        }
        Ok(())
    }

    /// The layers around the routes; the last added is the outermost.
    fn protect(&self, router: Router) -> Router {
        let mut app = router;
        if let Some(auth) = &self.auth {
            app = app.layer(axum::middleware::from_fn_with_state(
                auth.clone(),
                basic_auth::require,
            ));
        }
        if self.args.max_requests > 0 {
            app = app.layer(GlobalConcurrencyLimitLayer::new(self.args.max_requests));
        }
        app.layer(RequestBodyLimitLayer::new(MAX_REQUEST_BODY))
    }
}

/// The next connection on any of `listeners` (at least one), once the connection limit
/// allows another.
async fn accept(
    listeners: &[TcpListener],
    connections: &Arc<Semaphore>,
) -> std::io::Result<(TcpStream, OwnedSemaphorePermit)> {
    let permit = connections
        .clone()
        .acquire_owned()
        .await
        .expect("the connection semaphore is never closed");
    let accepts = listeners.iter().map(|listener| Box::pin(listener.accept()));
    let (accepted, _, _) = futures::future::select_all(accepts).await;
    let (stream, _) = accepted?;
    Ok((stream, permit))
}

/// Errors of one connection (reset before it was accepted) are passed over; running out
/// of file descriptors waits a little rather than spinning.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::warn!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

struct IncomingConnection {
    app: Router,
    tls: Option<Arc<Tls>>,
    header_timeout: Duration,
    /// Held from the accept on, so that shutdown also waits for a handshake under way.
    watcher: Watcher,
}

impl IncomingConnection {
    async fn serve(self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let Some(tls) = self.tls.clone() else {
            return self.http1(stream).await;
        };
        match tokio::time::timeout(self.header_timeout, tls.acceptor().accept(stream)).await {
            Ok(Ok(stream)) => self.http1(stream).await,
            Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
            Err(_) => tracing::debug!("TLS handshake timed out"),
        }
    }

    async fn http1<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            // A client that sends its request and closes its writing half (as HTTP/1.0
            // clients and `nc -q` do) still gets the answer; the header timeout and the
            // connection limit bound what half-closed connections can hold.
            .half_close(true)
            .max_buf_size(MAX_REQUEST_HEAD)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(self.app));
        if let Err(error) = self.watcher.watch(connection).await {
            tracing::debug!(%error, "connection closed with an error");
        }
    }
}
