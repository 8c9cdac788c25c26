//! Where an OpenWhisk deployment and its key come from, as the `wsk` CLI finds them: the
//! properties file `$WSK_CONFIG_FILE`, else `~/.wskprops` (`KEY=VALUE` lines: `APIHOST`,
//! `AUTH`, `NAMESPACE`), with the function's config keys winning.
//!
//! The key (`AUTH`, `uuid:key`) is held in a [`Secret`] that never prints itself, and the
//! config key `auth` may only *name* where it is (`env:VARIABLE`): a configuration is saved in
//! `FAASET.json` and `experiment.json`, and a key must never land in the workspace.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::Config;
use crate::error::{Error, Result};

pub use crate::platform::{Env, ProcessEnv};

/// An OpenWhisk key (`uuid:key`). `Debug` and `Display` show only where it came from and its
/// last four characters, so no format string can leak it.
#[derive(Clone)]
pub struct Secret {
    value: String,
    source: String,
}

impl Secret {
    /// The key itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// `"AUTH of ~/.wskprops, …1234"`: enough to tell two keys apart, nothing to use.
    pub fn describe(&self) -> String {
        format!(
            "{}, ending {}",
            self.source,
            crate::auth::masked(&self.value)
        )
    }

    /// `text` with the key, and each of its `uuid` and `key` halves, replaced by `***`: for any
    /// text that came back from the deployment or a library and is about to be shown.
    pub fn mask(&self, text: &str) -> String {
        let mut masked = text.replace(&self.value, "***");
        for part in self.value.split(':').filter(|p| p.len() >= 8) {
            masked = masked.replace(part, "***");
        }
        masked
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", self.describe())
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The deployment a function is published to: API host, key, namespace.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// `https://host[:port]` (a host without a scheme gets `https://`, as `wsk` does), no
    /// trailing slash.
    pub apihost: reqwest::Url,
    pub auth: Secret,
    pub namespace: String,
    /// The properties file as messages name it (`~/.wskprops`, or `$WSK_CONFIG_FILE`'s path).
    pub props: String,
}

/// The properties file `wsk` reads: `$WSK_CONFIG_FILE`, else `$HOME/.wskprops`.
pub fn wskprops_path(env: &dyn Env) -> Option<PathBuf> {
    env.var("WSK_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| env.var("HOME").map(|h| Path::new(&h).join(".wskprops")))
}

/// `KEY=VALUE` lines as `wsk` reads them: split at the first `=`, both sides trimmed; blank
/// lines, lines without `=` and `#` comments are skipped.
pub fn parse_wskprops(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// Resolves API host, key and namespace: config keys first, then the properties file.
pub fn resolve(config: &Config, env: &dyn Env) -> Result<Resolved> {
    let text = |key: &str| config.get(key).and_then(Value::as_str).map(str::to_string);
    let path = wskprops_path(env);
    let shown = path
        .as_ref()
        .map(|p| shown_path(p, env))
        .unwrap_or_else(|| "~/.wskprops".into());
    let props = match &path {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => parse_wskprops(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(Error::io("read", path, e)),
        },
        None => HashMap::new(),
    };
    let host_text = text("apihost")
        .or_else(|| props.get("APIHOST").cloned())
        .ok_or_else(|| {
            Error::Config(format!(
                "no OpenWhisk API host: set the config key \"apihost\" (like \
                 \"https://openwhisk.example.org\") or APIHOST in {shown} (`wsk property set \
                 --apihost ...`)"
            ))
        })?;
    let apihost = parse_apihost(&host_text)?;
    let auth = match text("auth") {
        Some(reference) => {
            let name = reference.strip_prefix("env:").ok_or_else(|| {
                Error::Config(
                    "config key \"auth\" must name an environment variable holding the key \
                     (\"auth\": \"env:OW_AUTH\"), not hold the key: a configuration is saved in \
                     FAASET.json; put the key in ~/.wskprops (AUTH=...) or in that variable"
                        .to_string(),
                )
            })?;
            let value = env.var(name).ok_or_else(|| {
                Error::Config(format!(
                    "config key \"auth\" names the environment variable {name}, which is not \
                     set: export {name}=<uuid:key>, or remove \"auth\" to use AUTH of {shown}"
                ))
            })?;
            Secret {
                value,
                source: format!("${name}"),
            }
        }
        None => Secret {
            value: props.get("AUTH").cloned().ok_or_else(|| {
                Error::Config(format!(
                    "no OpenWhisk key: set AUTH=<uuid:key> in {shown} (`wsk property set --auth \
                     ...`), or the config key \"auth\": \"env:VARIABLE\" naming a variable that \
                     holds it"
                ))
            })?,
            source: format!("AUTH of {shown}"),
        },
    };
    if !auth.value.contains(':') || auth.value.chars().any(|c| c.is_whitespace()) {
        return Err(Error::Config(format!(
            "the OpenWhisk key ({}) is not of the form uuid:key: copy it again from `wsk \
             property get --auth` or your deployment",
            auth.describe()
        )));
    }
    let namespace = text("namespace")
        .or_else(|| props.get("NAMESPACE").cloned())
        .unwrap_or_else(|| "_".to_string());
    check_namespace(&namespace)?;
    Ok(Resolved {
        apihost,
        auth,
        namespace,
        props: shown,
    })
}

/// An API host as `wsk` takes it: a URL, or a bare `host[:port]` meaning https.
pub fn parse_apihost(text: &str) -> Result<reqwest::Url> {
    let with_scheme = if text.contains("://") {
        text.to_string()
    } else {
        format!("https://{text}")
    };
    let url = reqwest::Url::parse(&with_scheme)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .filter(|u| u.host_str().is_some_and(|h| !h.is_empty()))
        .filter(|u| u.username().is_empty() && u.password().is_none())
        .filter(|u| u.query().is_none() && u.fragment().is_none())
        .ok_or_else(|| {
            Error::Config(format!(
                "OpenWhisk API host {text:?} is not an http(s) URL or host[:port] (like \
                 https://openwhisk.example.org or localhost:3233), without a key in it"
            ))
        })?;
    let mut url = url;
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

/// A namespace: `_` (the key's default) or an OpenWhisk entity name, refused before it is
/// put into a request path.
pub fn check_namespace(namespace: &str) -> Result<()> {
    let plain = namespace.strip_prefix('/').unwrap_or(namespace);
    if plain == "_" || super::is_entity_name(plain) {
        return Ok(());
    }
    if plain.contains('/') {
        return Err(Error::Config(format!(
            "OpenWhisk namespace {namespace:?} holds a \"/\": packages (namespace/package/action) \
             are not supported, actions are published to the namespace itself; set \
             \"namespace\" to the namespace only (or \"_\")"
        )));
    }
    Err(Error::Config(format!(
        "OpenWhisk namespace {namespace:?} is not a namespace name (letters, digits, and _ @ . - \
         and spaces inside; `_` means your key's default namespace)"
    )))
}

fn shown_path(path: &Path, env: &dyn Env) -> String {
    match env.var("HOME") {
        Some(home) => match path.strip_prefix(&home) {
            Ok(rest) => format!("~/{}", rest.display()),
            Err(_) => path.display().to_string(),
        },
        None => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct TestEnv(HashMap<&'static str, String>);
    impl Env for TestEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    const KEY: &str = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";

    fn config(v: Value) -> Config {
        v.as_object().unwrap().clone()
    }

    /// A home folder holding `wskprops`, and the environment that points at it.
    fn home(wskprops: &str) -> (tempfile::TempDir, TestEnv) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".wskprops"), wskprops).unwrap();
        let env = TestEnv(HashMap::from([("HOME", dir.path().display().to_string())]));
        (dir, env)
    }

    #[test]
    fn wskprops_is_read_as_wsk_reads_it() {
        let props = parse_wskprops(&format!(
            "# a comment\nAPIHOST=localhost:3233\n\n AUTH = {KEY}\nNAMESPACE=guest\nBROKEN\nEMPTY=\n"
        ));
        assert_eq!(props["APIHOST"], "localhost:3233");
        assert_eq!(props["AUTH"], KEY);
        assert_eq!(props["NAMESPACE"], "guest");
        assert!(!props.contains_key("BROKEN") && !props.contains_key("EMPTY"));
    }

    #[test]
    fn config_wins_over_wskprops_and_the_file_can_move() {
        let (_dir, env) = home(&format!(
            "APIHOST=localhost:3233\nAUTH={KEY}\nNAMESPACE=guest\n"
        ));
        let r = resolve(&Config::new(), &env).unwrap();
        assert_eq!(r.apihost.as_str(), "https://localhost:3233/");
        assert_eq!(r.namespace, "guest");
        assert_eq!(r.auth.expose(), KEY);
        let r = resolve(
            &config(json!({"apihost": "http://127.0.0.1:9", "namespace": "_"})),
            &env,
        )
        .unwrap();
        assert_eq!(r.apihost.as_str(), "http://127.0.0.1:9/");
        assert_eq!(r.namespace, "_");

        // WSK_CONFIG_FILE replaces ~/.wskprops, as for wsk.
        let other = tempfile::tempdir().unwrap();
        let file = other.path().join("props");
        std::fs::write(&file, "APIHOST=http://other:1\nAUTH=a:bcdefghijk\n").unwrap();
        let mut env = env;
        env.0.insert("WSK_CONFIG_FILE", file.display().to_string());
        let r = resolve(&Config::new(), &env).unwrap();
        assert_eq!(r.apihost.host_str(), Some("other"));
        assert_eq!(r.namespace, "_", "the default namespace");

        // The key from a variable the config names.
        env.0.insert("OW_TEST_KEY", "x:from-the-variable".into());
        let r = resolve(&config(json!({"auth": "env:OW_TEST_KEY"})), &env).unwrap();
        assert_eq!(r.auth.expose(), "x:from-the-variable");
        assert_eq!(r.auth.describe(), "$OW_TEST_KEY, ending …able");
    }

    #[test]
    fn missing_or_literal_keys_are_refused_without_showing_them() {
        let (_dir, env) = home("APIHOST=localhost:3233\n");
        let m = resolve(&Config::new(), &env).unwrap_err().to_string();
        assert!(
            m.starts_with("no OpenWhisk key: set AUTH=<uuid:key> in ~/.wskprops"),
            "{m}"
        );
        let m = resolve(&config(json!({"auth": KEY})), &env)
            .unwrap_err()
            .to_string();
        assert!(m.contains("must name an environment variable"), "{m}");
        assert!(!m.contains("123zO3x") && !m.contains("23bc46b1"), "{m}");
        let m = resolve(&config(json!({"auth": "env:NOPE"})), &env)
            .unwrap_err()
            .to_string();
        assert!(m.contains("NOPE, which is not set"), "{m}");
        let (_dir, env) = home("AUTH=nocolonhere1234\n");
        let m = resolve(&config(json!({"apihost": "localhost"})), &env)
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("not of the form uuid:key") && m.contains("…1234"),
            "{m}"
        );
        assert!(!m.contains("nocolonhere"), "{m}");
        let (_dir, env) = home("");
        let m = resolve(&Config::new(), &env).unwrap_err().to_string();
        assert!(m.starts_with("no OpenWhisk API host"), "{m}");
    }

    #[test]
    fn secrets_never_print_and_mask_their_halves() {
        let secret = Secret {
            value: KEY.into(),
            source: "AUTH of ~/.wskprops".into(),
        };
        for shown in [format!("{secret}"), format!("{secret:?}")] {
            assert!(
                !shown.contains("123zO3x") && !shown.contains("23bc46b1"),
                "{shown}"
            );
            assert!(shown.contains("…GIwP"), "{shown}");
        }
        let (uuid, key) = KEY.split_once(':').unwrap();
        let echoed = format!("denied {KEY} for {uuid} (key {key})");
        assert_eq!(secret.mask(&echoed), "denied *** for *** (key ***)");
    }

    #[test]
    fn api_hosts_and_namespaces_are_checked() {
        for ok in [
            "localhost:3233",
            "https://ow.example.org/",
            "http://127.0.0.1:8080",
        ] {
            assert!(parse_apihost(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://x",
            "http://",
            "https://u:p@host",
            "http://h/?x=1",
            "not a host",
        ] {
            let m = parse_apihost(bad).unwrap_err().to_string();
            assert!(m.contains("is not an http(s) URL"), "{bad}: {m}");
        }
        for ok in ["_", "guest", "/guest", "my.org_dev-1", "a b"] {
            assert!(check_namespace(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "../x", "x?y", " lead", "%2e"] {
            assert!(check_namespace(bad).is_err(), "{bad}");
        }
    }
}
