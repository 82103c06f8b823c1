//! A kubeconfig, whatever its bytes, is read as kubectl reads it or refused with an
//! error: selecting the context, the consistency checks, the base64 clean-up, dropping
//! credentials over plain HTTP and building the client configuration never panic; the
//! clean-up is idempotent, and over plain HTTP no credential survives.
#![no_main]

use kube::config::Kubeconfig;
use libfuzzer_sys::fuzz_target;
use metrics_server_prom::connect::kubeconfig::select;

/// Files a kubeconfig names are looked for where none exist: the fuzzer must not
/// read /dev/zero or the machine's own credentials.
fn nowhere(path: &mut Option<String>) {
    if let Some(path) = path {
        *path = format!("/nonexistent-msp-fuzz/{}", path.replace("..", "_"));
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut kubeconfig) = Kubeconfig::from_yaml(text) else {
        return;
    };
    for cluster in kubeconfig
        .clusters
        .iter_mut()
        .filter_map(|c| c.cluster.as_mut())
    {
        nowhere(&mut cluster.certificate_authority);
    }
    for user in kubeconfig
        .auth_infos
        .iter_mut()
        .filter_map(|u| u.auth_info.as_mut())
    {
        nowhere(&mut user.client_certificate);
        nowhere(&mut user.client_key);
        nowhere(&mut user.token_file);
        // An exec plugin is run only when a request is made, never here.
    }
    let contexts: Vec<Option<String>> = std::iter::once(None)
        .chain(kubeconfig.contexts.iter().map(|c| Some(c.name.clone())))
        .take(4)
        .collect();
    for context in contexts {
        let Ok(mut selected) = select(kubeconfig.clone(), context, "fuzz input") else {
            continue;
        };
        if selected.check().is_err() {
            continue;
        }
        selected.strip_base64_whitespace();
        let once = format!("{:?}{:?}", selected.cluster, selected.user);
        selected.strip_base64_whitespace();
        assert_eq!(once, format!("{:?}{:?}", selected.cluster, selected.user));
        let plain = selected.is_plain_http();
        selected.drop_credentials_for_plain_http();
        if plain {
            let user = &selected.user;
            assert!(user.token.is_none() && user.username.is_none() && user.password.is_none());
            assert!(user.client_key_data.is_none() && user.exec.is_none());
        }
        let _ = selected.kube_config();
        let _ = selected.client_identity_pem();
    }
});
