//! A kubeconfig `tokenFile`, sent as client-go sends it: read trimmed (a file written
//! with `echo $TOKEN > file` ends in a newline, which is not allowed in a header),
//! preferred over an inline `token`, and re-read at most once a minute so that a
//! rotated token is picked up, as kube does for the files it reads itself.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use http::HeaderValue;

/// How long a token read from the file is used before the file is read again.
const REREAD_AFTER: Duration = Duration::from_secs(60);

/// The file and the last token read from it.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
    current: Mutex<(HeaderValue, Instant)>,
}

impl TokenFile {
    /// Reads the file once; a missing, unreadable or empty file is an error now.
    pub fn open(path: &Path) -> anyhow::Result<Arc<TokenFile>> {
        let header = read_header(path)?;
        Ok(Arc::new(TokenFile {
            path: path.to_owned(),
            current: Mutex::new((header, Instant::now())),
        }))
    }

    /// The `Authorization` value, from the file if the last read is a minute old. A
    /// failed re-read keeps the last token (the file may be removed after start, as
    /// some deployments do to limit exposure).
    fn header(&self) -> HeaderValue {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.1.elapsed() >= REREAD_AFTER {
            match read_header(&self.path) {
                Ok(header) => current.0 = header,
                Err(error) => tracing::warn!(
                    path = %self.path.display(),
                    error = %format!("{error:#}"),
                    "could not re-read the tokenFile; still sending the token read before"
                ),
            }
            current.1 = Instant::now();
        }
        current.0.clone()
    }
}

/// `Bearer <token>`, marked sensitive so that no logging layer prints it.
fn read_header(path: &Path) -> anyhow::Result<HeaderValue> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading tokenFile {}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        bail!("tokenFile {} is empty", path.display());
    }
    let mut header = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| {
        anyhow::anyhow!(
            "tokenFile {} holds characters a bearer token cannot have",
            path.display()
        )
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// Sets `Authorization` from a [`TokenFile`] on every request.
#[derive(Clone)]
pub struct TokenFileLayer(pub Arc<TokenFile>);

impl<S> tower::Layer<S> for TokenFileLayer {
    type Service = TokenFileService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TokenFileService {
            file: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct TokenFileService<S> {
    file: Arc<TokenFile>,
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for TokenFileService<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, self.file.header());
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_trimmed_and_an_empty_file_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc.def\n").unwrap();
        let file = TokenFile::open(&path).unwrap();
        assert_eq!(file.header(), "Bearer abc.def");
        assert!(file.header().is_sensitive());
        std::fs::write(&path, " \n").unwrap();
        let error = TokenFile::open(&path).unwrap_err().to_string();
        assert!(error.contains("is empty"), "{error}");
        let missing = TokenFile::open(&dir.path().join("gone")).unwrap_err();
        assert!(
            format!("{missing:#}").contains("No such file"),
            "{missing:#}"
        );
    }

    #[test]
    fn a_rotated_token_is_read_once_the_last_read_is_old() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first").unwrap();
        let file = TokenFile::open(&path).unwrap();
        std::fs::write(&path, "second\n").unwrap();
        assert_eq!(
            file.header(),
            "Bearer first",
            "read again only after a minute"
        );
        file.current.lock().unwrap().1 = Instant::now() - REREAD_AFTER;
        assert_eq!(file.header(), "Bearer second");
        std::fs::remove_file(&path).unwrap();
        file.current.lock().unwrap().1 = Instant::now() - REREAD_AFTER;
        assert_eq!(
            file.header(),
            "Bearer second",
            "a failed re-read keeps the last"
        );
    }
}
