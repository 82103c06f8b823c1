//! HTTP basic authentication in front of every path but those the web config excludes,
//! as exporter-toolkit does it for `basic_auth_users` and `basic_auth_excluded_paths`.
//!
//! Passwords are checked against bcrypt hashes on tokio's blocking pool, never on the
//! reactor. A user that does not exist costs the same bcrypt work (against a dummy hash
//! of the configured cost), so the time an answer takes does not tell which users exist.
//! A (user, password) pair that verified is remembered by its HMAC under a key made at
//! start, so that a scraper's repeated requests skip bcrypt; failures are never
//! remembered.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use ring::hmac;

/// Verified credentials remembered at most; past it the memory starts over.
const REMEMBERED: usize = 256;

#[derive(Clone)]
pub struct BasicAuth {
    inner: Arc<Inner>,
}

struct Inner {
    users: BTreeMap<String, String>,
    /// Paths answered without credentials, matched exactly.
    excluded_paths: Vec<String>,
    /// Checked when the user is unknown, at the highest cost among the users' hashes.
    dummy_hash: String,
    remember_key: hmac::Key,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl BasicAuth {
    /// `users` maps names to bcrypt hashes, as checked by [`super::web_config`];
    /// `excluded_paths` are served to anyone. Makes one bcrypt hash for the dummy, so it
    /// takes as long as one login.
    pub fn new(
        users: BTreeMap<String, String>,
        excluded_paths: Vec<String>,
    ) -> anyhow::Result<BasicAuth> {
        let cost = users
            .values()
            .filter_map(|hash| hash.parse::<bcrypt::HashParts>().ok())
            .map(|parts| parts.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        let dummy_hash = bcrypt::hash(b"no such user", cost)?;
        let remember_key = hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("no randomness for the credentials cache key"))?;
        Ok(BasicAuth {
            inner: Arc::new(Inner {
                users,
                excluded_paths,
                dummy_hash,
                remember_key,
                verified: Mutex::default(),
            }),
        })
    }

    /// Whether `password` is `user`'s.
    pub async fn check(&self, user: &str, password: &str) -> bool {
        let inner = &self.inner;
        let tag = inner.tag(user, password);
        if inner.remembered().contains(&tag) {
            return true;
        }
        let (known, hash) = match inner.users.get(user) {
            Some(hash) => (true, hash.clone()),
            None => (false, inner.dummy_hash.clone()),
        };
        let password = password.to_owned();
        let matches =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        let valid = known && matches;
        if valid {
            let mut remembered = inner.remembered();
            if remembered.len() >= REMEMBERED {
                remembered.clear();
            }
            remembered.insert(tag);
        }
        valid
    }
}

impl Inner {
    fn tag(&self, user: &str, password: &str) -> [u8; 32] {
        let mut context = hmac::Context::with_key(&self.remember_key);
        context.update(&(user.len() as u64).to_be_bytes());
        context.update(user.as_bytes());
        context.update(password.as_bytes());
        let mut tag = [0; 32];
        tag.copy_from_slice(context.sign().as_ref());
        tag
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Middleware: the request goes on with valid credentials or to an excluded path, else
/// 401 with a challenge.
pub async fn require(State(auth): State<BasicAuth>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if auth
        .inner
        .excluded_paths
        .iter()
        .any(|excluded| excluded == path)
    {
        return next.run(request).await;
    }
    let valid = match credentials(request.headers()) {
        Some((user, password)) => auth.check(&user, &password).await,
        None => false,
    };
    if valid {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"metrics-server-prom\", charset=\"UTF-8\"",
            )],
            "Unauthorized\n",
        )
            .into_response()
    }
}

/// The user and password of an `Authorization: Basic` header.
pub(crate) fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> BasicAuth {
        let users = [
            ("alice".to_owned(), bcrypt::hash("wonderland", 4).unwrap()),
            ("bob".to_owned(), bcrypt::hash("builder", 5).unwrap()),
        ];
        BasicAuth::new(users.into_iter().collect(), Vec::new()).unwrap()
    }

    #[tokio::test]
    async fn right_password_passes_and_is_remembered() {
        let auth = auth();
        assert!(auth.check("alice", "wonderland").await);
        assert!(auth
            .inner
            .remembered()
            .contains(&auth.inner.tag("alice", "wonderland")));
        assert!(auth.check("alice", "wonderland").await);
        assert!(auth.check("bob", "builder").await);
    }

    #[tokio::test]
    async fn wrong_passwords_and_unknown_users_fail_and_are_not_remembered() {
        let auth = auth();
        assert!(!auth.check("alice", "builder").await);
        assert!(!auth.check("alice", "").await);
        assert!(!auth.check("carol", "wonderland").await);
        assert!(!auth.check("", "").await);
        assert!(auth.inner.remembered().is_empty());
    }

    #[tokio::test]
    async fn the_remembered_pair_is_the_whole_pair() {
        let auth = auth();
        assert!(auth.check("alice", "wonderland").await);
        assert_ne!(
            auth.inner.tag("alice", "wonderland"),
            auth.inner.tag("alicew", "onderland")
        );
        assert!(!auth.check("alicew", "onderland").await);
    }

    #[test]
    fn the_dummy_hash_costs_as_much_as_the_dearest_user() {
        let dummy: bcrypt::HashParts = auth().inner.dummy_hash.parse().unwrap();
        assert_eq!(dummy.get_cost(), 5);
    }

    #[test]
    fn credentials_are_read_from_a_basic_header() {
        let header = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            credentials(&headers)
        };
        // "alice:won:derland", as a password may hold a colon.
        assert_eq!(
            header("Basic YWxpY2U6d29uOmRlcmxhbmQ="),
            Some(("alice".into(), "won:derland".into()))
        );
        assert_eq!(
            header("basic YWxpY2U6d29uOmRlcmxhbmQ="),
            Some(("alice".into(), "won:derland".into()))
        );
        assert_eq!(header("Bearer YWxpY2U6d29uOmRlcmxhbmQ="), None);
        assert_eq!(header("Basic bm8gY29sb24="), None, "no colon");
        assert_eq!(header("Basic %%%"), None);
        assert_eq!(credentials(&HeaderMap::new()), None);
    }
}
