//! AWS credentials and region from the standard places, in the AWS CLI's order: an explicit
//! `profile` config key, else the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`), else the profile named by `AWS_PROFILE` (default `default`) in
//! `~/.aws/credentials` and `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE` /
//! `AWS_CONFIG_FILE`).
//!
//! Only static keys are read. Profiles that need another service to produce keys (SSO,
//! `role_arn`, `credential_process`) are named in the error with a way out, rather than
//! pulling in the SDK's `aws-config` (see ARCHITECTURE.md). Secrets stay in memory: no error
//! message contains a secret key or session token, and nothing here writes a file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aws_credential_types::Credentials;

use crate::error::{Error, Result};

/// Where the credentials came from, for messages ("environment", "profile dev").
#[derive(Debug, Clone)]
pub struct Resolved {
    pub credentials: Credentials,
    pub source: String,
    /// The profile's `region`, when credentials came from a profile that sets one.
    pub profile_region: Option<String>,
}

pub use crate::platform::{Env, ProcessEnv};

impl Env for HashMap<&str, &str> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key)
            .map(|v| v.to_string())
            .filter(|v| !v.is_empty())
    }
}

/// Resolves credentials: `profile` (the config key) wins, then the environment, then the
/// `AWS_PROFILE` or `default` profile.
pub fn resolve(profile: Option<&str>, env: &dyn Env) -> Result<Resolved> {
    if let Some(profile) = profile {
        return from_profile(profile, env, true);
    }
    let key = env.var("AWS_ACCESS_KEY_ID");
    let secret = env.var("AWS_SECRET_ACCESS_KEY");
    match (key, secret) {
        (Some(key), Some(secret)) => {
            return Ok(Resolved {
                credentials: Credentials::new(
                    key,
                    secret,
                    env.var("AWS_SESSION_TOKEN"),
                    None,
                    "environment",
                ),
                source: "the environment".to_string(),
                profile_region: None,
            })
        }
        (Some(_), None) => {
            return Err(Error::Config(
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: export both, or \
                 unset AWS_ACCESS_KEY_ID to use a profile of ~/.aws/credentials"
                    .to_string(),
            ))
        }
        (None, Some(_)) => {
            return Err(Error::Config(
                "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: export both, or \
                 unset AWS_SECRET_ACCESS_KEY to use a profile of ~/.aws/credentials"
                    .to_string(),
            ))
        }
        (None, None) => {}
    }
    let named = env.var("AWS_PROFILE");
    from_profile(named.as_deref().unwrap_or("default"), env, named.is_some())
}

/// The region: the `region` config key, else `AWS_REGION`, `AWS_DEFAULT_REGION`, else the
/// profile's `region`.
pub fn region(configured: Option<&str>, resolved: &Resolved, env: &dyn Env) -> Result<String> {
    configured
        .map(str::to_string)
        .or_else(|| env.var("AWS_REGION"))
        .or_else(|| env.var("AWS_DEFAULT_REGION"))
        .or_else(|| resolved.profile_region.clone())
        .ok_or_else(|| {
            Error::Config(
                "no AWS region: set the config key \"region\" (e.g. --config '{\"region\": \
                 \"us-east-1\"}'), or AWS_REGION, or region in your ~/.aws/config profile"
                    .to_string(),
            )
        })
}

fn home_file(env: &dyn Env, override_var: &str, name: &str) -> Option<PathBuf> {
    env.var(override_var).map(PathBuf::from).or_else(|| {
        env.var("HOME")
            .map(|h| Path::new(&h).join(".aws").join(name))
    })
}

fn from_profile(profile: &str, env: &dyn Env, explicit: bool) -> Result<Resolved> {
    let credentials_file = home_file(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let config_file = home_file(env, "AWS_CONFIG_FILE", "config");
    let read = |path: &Option<PathBuf>| -> Result<Option<Ini>> {
        let Some(path) = path else { return Ok(None) };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(Ini::parse(&text))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path, e)),
        }
    };
    let credentials = read(&credentials_file)?;
    let config = read(&config_file)?;
    // ~/.aws/credentials names sections `[name]`; ~/.aws/config `[profile name]` (and
    // `[default]`). A key in the credentials file wins over the same key in the config file.
    let config_section = if profile == "default" {
        "default".to_string()
    } else {
        format!("profile {profile}")
    };
    let mut values: HashMap<String, String> = HashMap::new();
    let mut found = false;
    if let Some(section) = config.as_ref().and_then(|c| c.section(&config_section)) {
        found = true;
        values.extend(section.clone());
    }
    if let Some(section) = credentials.as_ref().and_then(|c| c.section(profile)) {
        found = true;
        values.extend(section.clone());
    }
    let files = [&credentials_file, &config_file]
        .iter()
        .filter_map(|p| p.as_ref().map(|p| p.display().to_string()))
        .collect::<Vec<_>>()
        .join(" or ");
    if !found {
        return Err(Error::Config(if explicit {
            format!(
                "AWS profile {profile:?} is not in {files}: create it with `aws configure \
                 --profile {profile}` or name another profile"
            )
        } else {
            format!(
                "no AWS credentials: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
                 create a default profile in {files} (`aws configure`), or set the config key \
                 \"profile\""
            )
        }));
    }
    let key = values.get("aws_access_key_id").filter(|v| !v.is_empty());
    let secret = values
        .get("aws_secret_access_key")
        .filter(|v| !v.is_empty());
    match (key, secret) {
        (Some(key), Some(secret)) => Ok(Resolved {
            credentials: Credentials::new(
                key.clone(),
                secret.clone(),
                values.get("aws_session_token").cloned(),
                None,
                "profile",
            ),
            source: format!("profile {profile}"),
            profile_region: values.get("region").cloned(),
        }),
        _ => {
            let indirect = [
                "sso_session",
                "sso_start_url",
                "role_arn",
                "credential_process",
            ]
            .into_iter()
            .find(|k| values.contains_key(*k));
            Err(Error::Config(match indirect {
                Some(kind) => format!(
                    "AWS profile {profile:?} gets its keys through {kind}, which faaset does not \
                     resolve: export temporary keys, e.g. `eval \"$(aws configure \
                     export-credentials --profile {profile} --format env)\"`"
                ),
                None => format!(
                    "AWS profile {profile:?} has no aws_access_key_id and \
                     aws_secret_access_key: add both to {files}"
                ),
            }))
        }
    }
}

/// The sections of an AWS shared config or credentials file: `[section]` headers and
/// `key = value` lines. Comments (`#`, `;`) and indented sub-keys (nested settings such as
/// `s3 =` blocks) are skipped.
#[derive(Debug, Default)]
struct Ini {
    sections: HashMap<String, HashMap<String, String>>,
}

impl Ini {
    fn parse(text: &str) -> Ini {
        let mut ini = Ini::default();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            let line = line.trim();
            if line.is_empty() || line.starts_with(['#', ';']) {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                // `[profile  dev]` and `[ dev ]` name the same profile.
                let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
                ini.sections.entry(name.clone()).or_default();
                current = Some(name);
                continue;
            }
            let (Some(section), Some((key, value))) = (&current, line.split_once('=')) else {
                continue;
            };
            ini.sections
                .get_mut(section)
                .expect("section exists")
                .insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
        }
        ini
    }

    fn section(&self, name: &str) -> Option<&HashMap<String, String>> {
        self.sections.get(name)
    }
}

/// An access key id as it may appear in messages: the last four characters only.
pub fn masked_key_id(id: &str) -> String {
    crate::auth::masked(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(credentials: &str, config: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".aws")).unwrap();
        std::fs::write(dir.path().join(".aws/credentials"), credentials).unwrap();
        std::fs::write(dir.path().join(".aws/config"), config).unwrap();
        dir
    }

    const CREDENTIALS: &str = "# keys\n[default]\naws_access_key_id = AKIADEFAULT\n\
        aws_secret_access_key = default-secret\n\n[dev]\naws_access_key_id=AKIADEV\n\
        aws_secret_access_key=dev-secret\naws_session_token = dev-token\n";
    const CONFIG: &str = "[default]\nregion = eu-west-1\n[profile dev]\nregion = us-west-2\n\
        s3 =\n  max_concurrent_requests = 20\n[profile sso]\nsso_session = corp\n\
        [profile keys_in_config]\naws_access_key_id = AKIACONF\naws_secret_access_key = c\n";

    #[test]
    fn the_chain_in_order() {
        let dir = files(CREDENTIALS, CONFIG);
        let home = dir.path().to_str().unwrap();
        // The environment wins over the default profile.
        let env = HashMap::from([
            ("HOME", home),
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ]);
        let r = resolve(None, &env).unwrap();
        assert_eq!(r.credentials.access_key_id(), "AKIAENV");
        assert_eq!(r.source, "the environment");
        // An explicit profile wins over the environment.
        let r = resolve(Some("dev"), &env).unwrap();
        assert_eq!(r.credentials.access_key_id(), "AKIADEV");
        assert_eq!(r.credentials.session_token(), Some("dev-token"));
        assert_eq!(r.profile_region.as_deref(), Some("us-west-2"));
        // Without keys in the environment: AWS_PROFILE, else default.
        let env = HashMap::from([("HOME", home), ("AWS_PROFILE", "dev")]);
        assert_eq!(
            resolve(None, &env).unwrap().credentials.access_key_id(),
            "AKIADEV"
        );
        let env = HashMap::from([("HOME", home)]);
        let r = resolve(None, &env).unwrap();
        assert_eq!(r.credentials.secret_access_key(), "default-secret");
        assert_eq!(region(None, &r, &env).unwrap(), "eu-west-1");
        // Keys may also live in the config file.
        let r = resolve(Some("keys_in_config"), &env).unwrap();
        assert_eq!(r.credentials.access_key_id(), "AKIACONF");
    }

    #[test]
    fn region_order() {
        let dir = files(CREDENTIALS, CONFIG);
        let home = dir.path().to_str().unwrap();
        let env = HashMap::from([("HOME", home), ("AWS_DEFAULT_REGION", "ap-south-1")]);
        let r = resolve(None, &env).unwrap();
        assert_eq!(region(None, &r, &env).unwrap(), "ap-south-1");
        assert_eq!(region(Some("us-east-2"), &r, &env).unwrap(), "us-east-2");
        let env = HashMap::from([
            ("HOME", home),
            ("AWS_DEFAULT_REGION", "ap-south-1"),
            ("AWS_REGION", "sa-east-1"),
        ]);
        assert_eq!(region(None, &r, &env).unwrap(), "sa-east-1");
    }

    #[test]
    fn errors_say_what_to_do_and_never_show_secrets() {
        let dir = files(CREDENTIALS, CONFIG);
        let home = dir.path().to_str().unwrap();
        let message = |profile: Option<&str>, env: &HashMap<&str, &str>| {
            resolve(profile, env).unwrap_err().to_string()
        };
        let env = HashMap::from([("HOME", home), ("AWS_ACCESS_KEY_ID", "AKIAONLY")]);
        let m = message(None, &env);
        assert!(m.contains("AWS_SECRET_ACCESS_KEY is not"), "{m}");
        assert!(!m.contains("AKIAONLY"), "{m}");
        let env = HashMap::from([("HOME", home)]);
        let m = message(Some("nope"), &env);
        assert!(m.contains("profile \"nope\" is not in"), "{m}");
        let m = message(Some("sso"), &env);
        assert!(
            m.contains("sso_session") && m.contains("export-credentials"),
            "{m}"
        );
        let empty = tempfile::tempdir().unwrap();
        let env = HashMap::from([("HOME", empty.path().to_str().unwrap())]);
        let m = message(None, &env);
        assert!(
            m.starts_with("no AWS credentials: export AWS_ACCESS_KEY_ID"),
            "{m}"
        );
        for m in [message(Some("sso"), &env), message(None, &env)] {
            assert!(!m.contains("secret") || !m.contains("dev-secret"), "{m}");
        }
        let r = resolve(None, &HashMap::from([("HOME", home)])).unwrap();
        let m = region(None, &r, &HashMap::from([("HOME", "/nonexistent")]));
        assert!(m.is_ok(), "the profile's region counts");
        assert_eq!(masked_key_id("AKIAEXAMPLE1234"), "…1234");
    }
}
