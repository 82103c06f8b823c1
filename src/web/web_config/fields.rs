//! Reading the web config's YAML, once parsed into a tree, one key at a time, so that
//! every error names the key (`tls_server_config.cert_file`) and what was expected, in
//! this exporter's words rather than the YAML library's.
//!
//! Empty values (`key:` with nothing after it) read as YAML's null; like exporter-toolkit
//! (Go's YAML decoder leaves the field at its zero value), a null string is empty, a null
//! section has no keys, and a null flag keeps its default.

use anyhow::bail;
use serde_json::{Map, Value};

/// A key's place in the file, for errors: `section.key`.
pub fn path(section: &str, key: &str) -> String {
    match section {
        "" => key.to_owned(),
        section => format!("{section}.{key}"),
    }
}

/// What a value is, in the words an error uses.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "an empty value",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A section of keys; an empty one reads as no keys.
pub fn section<'a>(key: &str, value: &'a Value) -> anyhow::Result<Option<&'a Map<String, Value>>> {
    match value {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        other => bail!(
            "{key}: expected a mapping of keys to values, found {}",
            kind(other)
        ),
    }
}

/// A string; an empty value reads as "".
pub fn string(key: &str, value: &Value) -> anyhow::Result<String> {
    match value {
        Value::Null => Ok(String::new()),
        Value::String(text) => Ok(text.clone()),
        other => bail!("{key}: expected a string, found {}", kind(other)),
    }
}

/// true or false; an empty value reads as not set.
pub fn flag(key: &str, value: &Value) -> anyhow::Result<Option<bool>> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(flag) => Ok(Some(*flag)),
        other => bail!("{key}: expected true or false, found {}", kind(other)),
    }
}

/// A whole number from 0 up; an empty value reads as not set.
pub fn count(key: &str, value: &Value) -> anyhow::Result<Option<u64>> {
    match value {
        Value::Null => Ok(None),
        Value::Number(number) => match number.as_u64() {
            Some(count) => Ok(Some(count)),
            None => bail!("{key}: expected a whole number from 0 up, found {number}"),
        },
        other => bail!(
            "{key}: expected a whole number from 0 up, found {}",
            kind(other)
        ),
    }
}

/// A list of strings; an empty value reads as an empty list.
pub fn strings(key: &str, value: &Value) -> anyhow::Result<Vec<String>> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(text) => Ok(text.clone()),
                other => bail!("{key}[{index}]: expected a string, found {}", kind(other)),
            })
            .collect(),
        other => bail!("{key}: expected a list of strings, found {}", kind(other)),
    }
}

/// Fails on the first key of `map` that is not in `supported`. Keys exporter-toolkit
/// knows but this exporter does not support are named as such, with the reason.
pub fn only_known_keys(
    section: &str,
    map: &Map<String, Value>,
    supported: &[&str],
    unsupported: &[(&str, &str)],
) -> anyhow::Result<()> {
    for key in map.keys() {
        if supported.contains(&key.as_str()) {
            continue;
        }
        let at = path(section, key);
        match unsupported.iter().find(|(known, _)| known == key) {
            Some((_, why)) => bail!("{at}: not supported by metrics-server-prom: {why}"),
            None => bail!(
                "{at}: unknown key; expected one of {}",
                supported.join(", ")
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_key_and_what_was_expected() {
        let error = string("basic_auth_users.alice", &json!(12)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "basic_auth_users.alice: expected a string, found a number"
        );
        let error = flag("http_server_config.http2", &json!("no")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "http_server_config.http2: expected true or false, found a string"
        );
        let error = count("rate_limit.burst", &json!(-1)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "rate_limit.burst: expected a whole number from 0 up, found -1"
        );
        let error = strings("basic_auth_excluded_paths", &json!(["/a", null])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "basic_auth_excluded_paths[1]: expected a string, found an empty value"
        );
        let error = section("tls_server_config", &json!(["a"])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "tls_server_config: expected a mapping of keys to values, found a list"
        );
    }

    #[test]
    fn empty_values_read_as_go_zero_values() {
        assert_eq!(string("k", &Value::Null).unwrap(), "");
        assert_eq!(flag("k", &Value::Null).unwrap(), None);
        assert_eq!(count("k", &Value::Null).unwrap(), None);
        assert!(strings("k", &Value::Null).unwrap().is_empty());
        assert!(section("k", &Value::Null).unwrap().is_none());
    }

    #[test]
    fn unknown_and_unsupported_keys_are_told_apart() {
        let map = json!({"cert_file": "a", "certfile": "b"});
        let error = only_known_keys(
            "tls_server_config",
            map.as_object().unwrap(),
            &["cert_file"],
            &[("cipher_suites", "rustls chooses")],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "tls_server_config.certfile: unknown key; expected one of cert_file"
        );
        let map = json!({"cipher_suites": []});
        let error = only_known_keys(
            "tls_server_config",
            map.as_object().unwrap(),
            &["cert_file"],
            &[("cipher_suites", "rustls chooses")],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "tls_server_config.cipher_suites: not supported by metrics-server-prom: rustls chooses"
        );
    }
}
