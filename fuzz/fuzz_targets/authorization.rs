//! An `Authorization` header never panics the endpoint and lets a request through
//! only with exactly the configured user and password; a `Basic` header made from any
//! user (without `:`) and password reads back as exactly that pair.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use metrics_server_prom::fuzzing::{authorization_credentials, authorized};
use metrics_server_prom::web::basic_auth::BasicAuth;

const USER: &str = "prometheus";
const PASSWORD: &str = "s3cr3t:with colon ✓";

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any header value.
    Raw(Vec<u8>),
    /// A well-formed header with a scheme spelled in any case.
    Basic {
        scheme: u8,
        user: String,
        password: String,
    },
}

fn setup() -> &'static (tokio::runtime::Runtime, BasicAuth) {
    static SETUP: OnceLock<(tokio::runtime::Runtime, BasicAuth)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // The lowest cost bcrypt allows, so that each check is cheap.
        let hash = bcrypt::hash(PASSWORD, 4).unwrap();
        let auth = BasicAuth::new(BTreeMap::from([(USER.to_owned(), hash)]), Vec::new()).unwrap();
        (runtime, auth)
    })
}

fuzz_target!(|input: Input| {
    let (runtime, auth) = setup();
    let header = match &input {
        Input::Raw(bytes) => bytes.clone(),
        Input::Basic {
            scheme,
            user,
            password,
        } => {
            let scheme = ["Basic", "basic", "BASIC", "bAsIc"][usize::from(*scheme % 4)];
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            format!("{scheme} {encoded}").into_bytes()
        }
    };
    let credentials = authorization_credentials(&header);
    if let Input::Basic { user, password, .. } = &input {
        if !user.contains(':') {
            assert_eq!(credentials, Some((user.clone(), password.clone())));
        }
    }
    let exact = credentials
        .as_ref()
        .is_some_and(|(u, p)| u == USER && p == PASSWORD);
    // Only a pair that could be right is worth a bcrypt check; the rest must fail too.
    if exact || credentials.as_ref().is_some_and(|(u, _)| u == USER) || header.len() % 16 == 0 {
        let allowed = runtime.block_on(authorized(auth, &header));
        assert_eq!(allowed, exact, "{header:?} -> {credentials:?}");
    }
});
