//! Connection failures in words a user recognises: which server, through which proxy,
//! and what went wrong, with rustls' and hyper's own terms kept in parentheses so that
//! they can still be searched for. No proxy password is ever printed.

use std::error::Error as StdError;
use std::fmt;

use rustls::{AlertDescription, CertificateError, Error as TlsError, OtherError};

use super::proxy::{redact, ProxyUrl};
use super::timeouts::is_timeout;
use super::tls::SmallRsaKey;

type BoxError = Box<dyn StdError + Send + Sync>;

/// A connection to the API server that could not be made.
#[derive(Debug)]
pub struct ConnectError {
    text: String,
    /// Kept for timeouts only, so that [`is_timeout`] still finds them by kind.
    timed_out: Option<BoxError>,
}

impl ConnectError {
    pub fn new(server: &str, proxy: Option<&ProxyUrl>, error: BoxError) -> ConnectError {
        let via = proxy.map_or(String::new(), |proxy| {
            format!(" through the proxy {proxy} ({})", proxy.origin)
        });
        let timed_out = is_timeout(&*error);
        let text = match timed_out {
            true => format!("connecting to {server}{via} timed out"),
            false => format!("cannot connect to {server}{via}: {}", describe(&*error)),
        };
        ConnectError {
            text,
            timed_out: timed_out.then_some(error),
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl StdError for ConnectError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.timed_out
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// A request that failed because the server closed the connection, from a server that
/// had asked for a client certificate we did not have: most likely it requires one and
/// its alert saying so lost the race with the request (see
/// [`super::tls::UnansweredCertRequests`]).
#[derive(Debug)]
pub struct ClosedAfterCertRequest(BoxError);

impl ClosedAfterCertRequest {
    /// `error`, explained when `asked` and the connection was closed before an answer.
    pub fn explain(error: BoxError, asked: bool) -> BoxError {
        if asked && closed_without_answer(&*error) {
            Box::new(ClosedAfterCertRequest(error))
        } else {
            error
        }
    }
}

/// hyper's "canceled" and "closed" errors, where no TLS error says more.
fn closed_without_answer(error: &(dyn StdError + 'static)) -> bool {
    let mut cause = Some(error);
    let mut closed = false;
    while let Some(error) = cause {
        if rustls_error(error).is_some() {
            return false;
        }
        if let Some(hyper) = error.downcast_ref::<hyper::Error>() {
            closed |= hyper.is_canceled() || hyper.is_closed() || hyper.is_incomplete_message();
        }
        cause = error.source();
    }
    closed
}

impl fmt::Display for ClosedAfterCertRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the server closed the connection after asking for a client certificate, which \
             the kubeconfig's user does not have: it most likely requires one (certificate \
             required)",
        )
    }
}

impl StdError for ClosedAfterCertRequest {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.0)
    }
}

/// An error and its causes on one line, each message once, the TLS and proxy ones in
/// words, any URL's password redacted.
pub fn describe(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(tls) = rustls_error(error) {
            parts.push(explain_tls(tls));
            break;
        }
        let text = explain_tunnel(error.to_string());
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        cause = error.source();
    }
    redact(&parts.join(": "))
}

/// A rustls error, also where hyper-rustls and tokio-rustls wrapped it in an
/// `io::Error`, twice (whose `source()` skips what it wraps).
fn rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a TlsError> {
    let mut error = error;
    loop {
        if let Some(tls) = error.downcast_ref::<TlsError>() {
            return Some(tls);
        }
        error = error.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

/// hyper-util's proxy tunnel errors (a type it does not export, so read by their
/// text) in words.
fn explain_tunnel(text: String) -> String {
    let words = match text.strip_prefix("tunnel error: ") {
        Some("unsuccessful") => {
            "the proxy would not open a tunnel to the server (it answered CONNECT with an error)"
        }
        Some("proxy authorization required") => {
            "the proxy requires a login (407 Proxy Authentication Required): give it as \
             http://user:password@host:port"
        }
        Some("failed to create underlying connection") => "cannot reach the proxy",
        _ => return text,
    };
    format!("{words} ({text})")
}

fn explain_tls(error: &TlsError) -> String {
    use CertificateError as C;
    #[allow(deprecated)]
    let words = match error {
        TlsError::InvalidCertificate(problem) => match problem {
            C::UnknownIssuer => Some(
                "the server's certificate is signed by an unknown authority: nothing in the \
                 kubeconfig's certificate-authority issued it",
            ),
            C::Expired | C::ExpiredContext { .. } => Some("the server's certificate has expired"),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                Some("the server's certificate is not yet valid")
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => Some(
                "the server's certificate is not valid for the name we connect to (the \
                 server's host, or tls-server-name)",
            ),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => Some(
                "the server's certificate is not for servers: its extended key usage lacks \
                 serverAuth",
            ),
            C::UnsupportedSignatureAlgorithm
            | C::UnsupportedSignatureAlgorithmContext { .. }
            | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => Some(
                "the server's certificate is signed with an algorithm we do not accept (SHA-1 \
                 and MD5 are refused, as kubectl refuses them)",
            ),
            C::Other(OtherError(other)) => {
                if let Some(small) = other.downcast_ref::<SmallRsaKey>() {
                    return small.to_string();
                }
                None
            }
            _ => None,
        },
        TlsError::AlertReceived(AlertDescription::CertificateRequired) => {
            Some("the server requires a client certificate, and the kubeconfig's user has none")
        }
        TlsError::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown,
        ) => Some("the server refused our client certificate"),
        TlsError::AlertReceived(AlertDescription::HandshakeFailure) => Some(
            "the server accepts none of the TLS versions and cipher suites we offer (TLS 1.3; \
             TLS 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305): a server that offers only \
             CBC cipher suites cannot be reached",
        ),
        _ => None,
    };
    match words {
        Some(words) => format!("{words} ({error})"),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrap(&'static str, Option<BoxError>);
    impl fmt::Display for Wrap {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for Wrap {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn repeated_messages_are_said_once_and_tls_in_words() {
        let tls = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            TlsError::InvalidCertificate(CertificateError::UnknownIssuer),
        ));
        let error = Wrap(
            "client error (Connect)",
            Some(Box::new(Wrap(
                "client error (Connect)",
                Some(Box::new(tls)),
            ))),
        );
        let text = describe(&error);
        assert_eq!(text.matches("client error (Connect)").count(), 1, "{text}");
        assert!(text.contains("unknown authority"), "{text}");
        assert!(text.contains("UnknownIssuer"), "{text}");
    }

    #[test]
    fn proxy_passwords_are_redacted() {
        let error = Wrap("proxy http://me:hunter2@proxy:3128 refused", None);
        assert!(!describe(&error).contains("hunter2"));
    }

    /// A hyper error from a server that closes the connection without answering.
    async fn closed_by_server() -> hyper::Error {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            drop(stream);
        });
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(connection);
        server.await.unwrap();
        let request = http::Request::get("/")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        sender.send_request(request).await.unwrap_err()
    }

    #[tokio::test]
    async fn a_connection_closed_after_an_unanswered_certificate_request_is_explained() {
        let asked = ClosedAfterCertRequest::explain(Box::new(closed_by_server().await), true);
        assert!(
            asked.to_string().contains("certificate required"),
            "{asked}"
        );
        let not_asked = ClosedAfterCertRequest::explain(Box::new(closed_by_server().await), false);
        assert!(
            !not_asked.to_string().contains("certificate"),
            "{not_asked}"
        );
        let other = ClosedAfterCertRequest::explain(Box::new(Wrap("refused", None)), true);
        assert_eq!(other.to_string(), "refused");
    }

    #[test]
    fn timeouts_stay_timeouts() {
        let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        let error = ConnectError::new("https://10.0.0.1:6443/", None, Box::new(timed_out));
        assert!(is_timeout(&error));
        assert!(error.to_string().contains("10.0.0.1:6443"));
    }
}
