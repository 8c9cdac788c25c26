//! Google credentials from Google's standard places, turned into OAuth2 tokens:
//!
//! - `GOOGLE_APPLICATION_CREDENTIALS`: the path of a service-account key (JSON);
//! - else the gcloud application-default credentials file
//!   (`$CLOUDSDK_CONFIG/application_default_credentials.json`, else
//!   `~/.config/gcloud/application_default_credentials.json`, written by
//!   `gcloud auth application-default login`), a service-account key or an `authorized_user`.
//!
//! A service account signs an RS256 JWT with its key (`ring`, already in the tree through
//! rustls) and trades it at the token endpoint for an access token (`scope`) or an ID token
//! (`target_audience`, for calling a private Cloud Run service). An `authorized_user` trades its
//! refresh token. Keys and tokens live in memory only, in [`Secret`]s that print masked.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::platform::Env;

/// The scope of every control-plane call (Run Admin API, Artifact Registry).
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Google's token endpoint, where a key file names none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Overrides the token endpoint of every key (tests, private endpoints).
pub const TOKEN_ENDPOINT_VAR: &str = "FAASET_GOOGLE_TOKEN_ENDPOINT";

// `Secret` and `form` are shared with the Azure platform (`crate::auth`).
pub use crate::auth::{form, Secret};

/// What the credentials file holds.
#[derive(Debug, Clone)]
pub enum Kind {
    ServiceAccount {
        client_email: String,
        private_key_id: String,
        /// The PKCS#8 DER of the key's PEM.
        private_key: Secret,
    },
    AuthorizedUser {
        client_id: String,
        client_secret: Secret,
        refresh_token: Secret,
    },
}

/// Credentials found, with where they came from (for messages).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub kind: Kind,
    pub token_uri: String,
    /// `"$GOOGLE_APPLICATION_CREDENTIALS (/path/key.json)"` or the ADC file's path.
    pub source: String,
}

/// The application-default credentials file gcloud writes.
pub fn adc_path(env: &dyn Env) -> Option<PathBuf> {
    let dir = env.var("CLOUDSDK_CONFIG").map(PathBuf::from).or_else(|| {
        env.var("HOME")
            .map(|h| Path::new(&h).join(".config/gcloud"))
    })?;
    Some(dir.join("application_default_credentials.json"))
}

/// Finds credentials in Google's standard places; a clear error naming what to set when
/// there are none.
pub fn find(env: &dyn Env) -> Result<Credentials> {
    if let Some(path) = env.var("GOOGLE_APPLICATION_CREDENTIALS") {
        let source = format!("$GOOGLE_APPLICATION_CREDENTIALS ({path})");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::Config(format!(
                "cannot read the Google credentials file {source}: {e}: point \
                 GOOGLE_APPLICATION_CREDENTIALS at a service-account key (JSON)"
            ))
        })?;
        return parse(&text, source, env);
    }
    let adc = adc_path(env);
    if let Some(path) = adc.as_ref().filter(|p| p.is_file()) {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        return parse(&text, path.display().to_string(), env);
    }
    Err(Error::Config(format!(
        "no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key \
         file (JSON), or run `gcloud auth application-default login` (it writes {})",
        adc.map(|p| p.display().to_string())
            .unwrap_or_else(|| "~/.config/gcloud/application_default_credentials.json".into())
    )))
}

/// Parses a credentials file (`type` `service_account` or `authorized_user`).
pub fn parse(text: &str, source: String, env: &dyn Env) -> Result<Credentials> {
    let bad = |why: &str| {
        Error::Config(format!(
            "the Google credentials file {source} {why}: download a service-account key again \
             (IAM → Service accounts → Keys → Add key → JSON)"
        ))
    };
    let json: Value = serde_json::from_str(text).map_err(|_| bad("is not JSON"))?;
    let field = |name: &str| json.get(name).and_then(Value::as_str).map(str::to_string);
    let token_uri = env
        .var(TOKEN_ENDPOINT_VAR)
        .or_else(|| field("token_uri"))
        .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_string());
    let kind = match field("type").as_deref() {
        Some("service_account") => {
            let pem = field("private_key").ok_or_else(|| bad("has no private_key"))?;
            Kind::ServiceAccount {
                client_email: field("client_email").ok_or_else(|| bad("has no client_email"))?,
                private_key_id: field("private_key_id").unwrap_or_default(),
                private_key: Secret::new(pkcs8_der(&pem).ok_or_else(|| {
                    bad("has a private_key that is not a PEM \"PRIVATE KEY\" (PKCS#8)")
                })?),
            }
        }
        Some("authorized_user") => Kind::AuthorizedUser {
            client_id: field("client_id").ok_or_else(|| bad("has no client_id"))?,
            client_secret: Secret::new(field("client_secret").unwrap_or_default()),
            refresh_token: Secret::new(
                field("refresh_token").ok_or_else(|| bad("has no refresh_token"))?,
            ),
        },
        other => {
            return Err(Error::Config(format!(
                "the Google credentials file {source} has type {:?}; FaaSET reads \
                 \"service_account\" keys and gcloud's \"authorized_user\" credentials",
                other.unwrap_or("(none)")
            )))
        }
    };
    Ok(Credentials {
        kind,
        token_uri,
        source,
    })
}

/// The DER bytes (kept as base64 text in the [`Secret`]) of a `-----BEGIN PRIVATE KEY-----`
/// PEM block.
fn pkcs8_der(pem: &str) -> Option<String> {
    let body = pem
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)?
        .split("-----END PRIVATE KEY-----")
        .next()?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&b64)
        .ok()
        .map(|_| b64)
}

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Want<'a> {
    /// An access token for the control plane ([`SCOPE`]).
    Access,
    /// An ID token whose audience is `audience` (a Cloud Run service's URL).
    Id { audience: &'a str },
}

/// A service account's signed assertion (RS256 JWT) for `want`, issued at `now` (Unix s).
pub fn assertion(
    client_email: &str,
    private_key_id: &str,
    private_key: &Secret,
    token_uri: &str,
    want: Want<'_>,
    now: u64,
) -> Result<String> {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": private_key_id});
    let mut claims = json!({
        "iss": client_email,
        "aud": token_uri,
        "iat": now,
        "exp": now + 3600,
    });
    match want {
        Want::Access => claims["scope"] = SCOPE.into(),
        // Google's token endpoint answers a `target_audience` assertion with an ID token.
        Want::Id { audience } => claims["target_audience"] = audience.into(),
    }
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let signed = format!("{}.{}", b64(&header), b64(&claims));
    let der = base64::engine::general_purpose::STANDARD
        .decode(private_key.expose())
        .map_err(|_| Error::Internal("private key DER".into()))?;
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).map_err(|e| {
        Error::Config(format!(
            "the service-account private key is not an RSA PKCS#8 key ring can use ({e}): \
             download the key again"
        ))
    })?;
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .map_err(|_| Error::Internal("RS256 signing failed".into()))?;
    Ok(format!(
        "{signed}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
    ))
}

impl Credentials {
    /// The token endpoint's form body for `want`.
    pub fn grant(&self, want: Want<'_>, now: u64) -> Result<String> {
        match &self.kind {
            Kind::ServiceAccount {
                client_email,
                private_key_id,
                private_key,
            } => {
                let jwt = assertion(
                    client_email,
                    private_key_id,
                    private_key,
                    &self.token_uri,
                    want,
                    now,
                )?;
                Ok(form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", &jwt),
                ]))
            }
            Kind::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
            } => Ok(form(&[
                ("grant_type", "refresh_token"),
                ("client_id", client_id),
                ("client_secret", client_secret.expose()),
                ("refresh_token", refresh_token.expose()),
            ])),
        }
    }

    /// Asks the token endpoint for a token.
    pub async fn token(&self, http: &reqwest::Client, want: Want<'_>) -> Result<Secret> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let body = self.grant(want, now)?;
        let response = http
            .post(&self.token_uri)
            .timeout(std::time::Duration::from_secs(60))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| {
                Error::Config(format!(
                    "cannot reach Google's token endpoint {}: {}: check the network (or {})",
                    self.token_uri,
                    super::error_chain(&e),
                    TOKEN_ENDPOINT_VAR
                ))
            })?;
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        // An authorized_user's refresh answers both tokens; its ID token's audience is the
        // gcloud client, which Cloud Run accepts from a user who may invoke the service.
        let field = match want {
            Want::Access => "access_token",
            Want::Id { .. } => "id_token",
        };
        match json.get(field).and_then(Value::as_str) {
            Some(token) if status.is_success() => Ok(Secret::new(token)),
            _ => {
                let why = json
                    .get("error_description")
                    .or_else(|| json.get("error"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
                Err(Error::Usage(format!(
                    "Google's token endpoint {} refused the credentials of {} ({status}, no \
                     {field}): {}: check that the key is active (or run `gcloud auth \
                     application-default login` again)",
                    self.token_uri,
                    self.source,
                    self.mask(&why)
                )))
            }
        }
    }

    /// `text` with every secret of these credentials replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        let secrets: Vec<&str> = match &self.kind {
            Kind::ServiceAccount { private_key, .. } => vec![private_key.expose()],
            Kind::AuthorizedUser {
                client_secret,
                refresh_token,
                ..
            } => vec![client_secret.expose(), refresh_token.expose()],
        };
        secrets
            .into_iter()
            .filter(|s| s.len() >= 8)
            .fold(text.to_string(), |t, s| t.replace(s, "***"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Vars(HashMap<&'static str, String>);
    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    /// A key file whose key is only base64 (ring cannot make RSA keys, and no key is
    /// committed): these tests check lookup and parsing; signing is checked by the CLI test
    /// (tests/cli/google.rs) with a key generated at test time, verified by google-auth.
    fn service_account(key_b64: &str) -> String {
        json!({
            "type": "service_account", "project_id": "p", "private_key_id": "kid1",
            "private_key": format!("-----BEGIN PRIVATE KEY-----\n{key_b64}\n-----END PRIVATE KEY-----\n"),
            "client_email": "faaset@p.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token"
        })
        .to_string()
    }

    #[test]
    fn finds_the_variable_then_the_adc_file_and_says_what_to_set() {
        let dir = tempfile::tempdir().unwrap();
        let none = Vars(HashMap::from([("HOME", dir.path().display().to_string())]));
        let m = find(&none).unwrap_err().to_string();
        assert!(
            m.starts_with("no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS")
                && m.contains(".config/gcloud/application_default_credentials.json"),
            "{m}"
        );
        let adc = dir.path().join(".config/gcloud");
        std::fs::create_dir_all(&adc).unwrap();
        std::fs::write(
            adc.join("application_default_credentials.json"),
            json!({"type": "authorized_user", "client_id": "cid", "client_secret": "cs-secret-1234",
                   "refresh_token": "1//refresh-token-abcd"})
            .to_string(),
        )
        .unwrap();
        let user = find(&none).unwrap();
        assert!(matches!(user.kind, Kind::AuthorizedUser { .. }));
        assert_eq!(user.token_uri, DEFAULT_TOKEN_URI);
        let grant = user.grant(Want::Access, 0).unwrap();
        assert!(grant.starts_with("grant_type=refresh_token&client_id=cid"));
        assert!(!format!("{user:?}").contains("refresh-token"), "{user:?}");
        assert_eq!(
            user.mask("bad 1//refresh-token-abcd"),
            "bad ***",
            "secrets are masked"
        );

        let key = dir.path().join("key.json");
        std::fs::write(&key, service_account("AAAA")).unwrap();
        let both = Vars(HashMap::from([
            ("HOME", dir.path().display().to_string()),
            ("GOOGLE_APPLICATION_CREDENTIALS", key.display().to_string()),
            (TOKEN_ENDPOINT_VAR, "http://127.0.0.1:9/token".to_string()),
        ]));
        let sa = find(&both).unwrap();
        assert!(
            matches!(sa.kind, Kind::ServiceAccount { .. }),
            "the variable wins"
        );
        assert_eq!(sa.token_uri, "http://127.0.0.1:9/token");
        assert!(sa.source.starts_with("$GOOGLE_APPLICATION_CREDENTIALS ("));
    }

    #[test]
    fn bad_files_are_one_line_naming_the_file() {
        let env = Vars(HashMap::new());
        let m = parse("{", "k.json".into(), &env).unwrap_err().to_string();
        assert!(
            m.starts_with("the Google credentials file k.json is not JSON"),
            "{m}"
        );
        let m = parse(r#"{"type": "external_account"}"#, "k.json".into(), &env)
            .unwrap_err()
            .to_string();
        assert!(m.contains("has type \"external_account\""), "{m}");
        let m = parse(
            &json!({"type": "service_account", "client_email": "a@b", "private_key": "x"})
                .to_string(),
            "k.json".into(),
            &env,
        )
        .unwrap_err()
        .to_string();
        assert!(m.contains("not a PEM \"PRIVATE KEY\""), "{m}");
        let missing = Vars(HashMap::from([(
            "GOOGLE_APPLICATION_CREDENTIALS",
            "/nonexistent/key.json".to_string(),
        )]));
        let m = find(&missing).unwrap_err().to_string();
        assert!(m.starts_with("cannot read the Google credentials file $GOOGLE_APPLICATION_CREDENTIALS (/nonexistent/key.json)"), "{m}");
    }

    #[test]
    fn forms_are_url_encoded() {
        assert_eq!(
            form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("a", "x y+z")
            ]),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&a=x+y%2Bz"
        );
    }

    #[test]
    fn secrets_print_masked() {
        let s = Secret::new("ya29.very-secret-token-WXYZ");
        assert_eq!(format!("{s} {s:?}"), "…WXYZ Secret(…WXYZ)");
    }
}
