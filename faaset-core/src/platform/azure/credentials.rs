//! A service principal from the Azure SDKs' environment convention (`AZURE_TENANT_ID`,
//! `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`; `AZURE_AUTHORITY_HOST` moves Entra ID, as in
//! azure-identity), traded for an ARM access token by Entra ID's client-credentials flow
//! (`POST {authority}/{tenant}/oauth2/v2.0/token`, scope `https://management.azure.com/.default`).
//! The secret and the tokens live in memory only, in [`Secret`]s that print masked.

use serde_json::Value;

use crate::auth::{form, Secret};
use crate::error::chain as error_chain;
use crate::error::{Error, Result};
use crate::platform::Env;

pub const TENANT_VAR: &str = "AZURE_TENANT_ID";
pub const CLIENT_VAR: &str = "AZURE_CLIENT_ID";
pub const SECRET_VAR: &str = "AZURE_CLIENT_SECRET";
/// azure-identity's variable for another Entra ID (sovereign clouds, tests).
pub const AUTHORITY_VAR: &str = "AZURE_AUTHORITY_HOST";
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The scope of every ARM call, and of OneDeploy on the app's SCM site (Kudu takes ARM tokens).
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

/// A service principal's credentials.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub tenant: String,
    pub client_id: String,
    pub secret: Secret,
    /// `https://login.microsoftonline.com` (or `AZURE_AUTHORITY_HOST`), no trailing `/`.
    pub authority: String,
}

/// The service principal of the environment; one line naming what is missing.
pub fn find(env: &dyn Env) -> Result<Credentials> {
    let missing: Vec<&str> = [TENANT_VAR, CLIENT_VAR, SECRET_VAR]
        .into_iter()
        .filter(|v| env.var(v).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Config(format!(
            "no Azure credentials: {} {} not set: set AZURE_TENANT_ID, AZURE_CLIENT_ID and \
             AZURE_CLIENT_SECRET to a service principal's (`az ad sp create-for-rbac` prints \
             them as tenant, appId and password)",
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" }
        )));
    }
    let var = |name| env.var(name).unwrap_or_default();
    let tenant = var(TENANT_VAR);
    // The tenant becomes a URL path segment.
    if !tenant
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
    {
        return Err(Error::Config(format!(
            "AZURE_TENANT_ID is {tenant:?}, which is not a tenant id (a GUID) or domain"
        )));
    }
    Ok(Credentials {
        tenant,
        client_id: var(CLIENT_VAR),
        secret: Secret::new(var(SECRET_VAR)),
        authority: env
            .var(AUTHORITY_VAR)
            .map(|a| {
                let a = a.trim_end_matches('/');
                // azure-identity takes a bare host too.
                if a.contains("://") {
                    a.to_string()
                } else {
                    format!("https://{a}")
                }
            })
            .unwrap_or_else(|| DEFAULT_AUTHORITY.into()),
    })
}

impl Credentials {
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant)
    }

    /// The token request's form body.
    pub fn grant(&self, scope: &str) -> String {
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &self.client_id),
            ("client_secret", self.secret.expose()),
            ("scope", scope),
        ])
    }

    /// An access token for `scope` from Entra ID.
    pub async fn token(&self, http: &reqwest::Client, scope: &str) -> Result<Secret> {
        let url = self.token_url();
        let response = http
            .post(&url)
            .timeout(std::time::Duration::from_secs(60))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(self.grant(scope))
            .send()
            .await
            .map_err(|e| {
                Error::Config(format!(
                    "cannot reach Entra ID's token endpoint {url}: {}: check the network (or \
                     {AUTHORITY_VAR})",
                    error_chain(&e)
                ))
            })?;
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match json.get("access_token").and_then(Value::as_str) {
            Some(token) if status.is_success() => Ok(Secret::new(token)),
            _ => {
                let why = json
                    .get("error_description")
                    .or_else(|| json.get("error"))
                    .and_then(Value::as_str)
                    .map(|w| w.lines().next().unwrap_or(w).to_string())
                    .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
                Err(Error::Usage(self.mask(&format!(
                    "Entra ID ({url}) refused the service principal {} ({status}): {why}: check \
                     AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a secret may have \
                     expired)",
                    self.client_id
                ))))
            }
        }
    }

    /// `text` with the client secret replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        let secret = self.secret.expose();
        if secret.len() >= 8 {
            text.replace(secret, "***")
        } else {
            text.to_string()
        }
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

    #[test]
    fn the_environment_convention_and_what_is_missing() {
        let m = find(&Vars(HashMap::new())).unwrap_err().to_string();
        assert!(
            m.starts_with(
                "no Azure credentials: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET are \
                 not set"
            ),
            "{m}"
        );
        let some = Vars(HashMap::from([
            (TENANT_VAR, "t-1".to_string()),
            (CLIENT_VAR, "c".to_string()),
        ]));
        let m = find(&some).unwrap_err().to_string();
        assert!(
            m.starts_with("no Azure credentials: AZURE_CLIENT_SECRET is not set"),
            "{m}"
        );
        let all = Vars(HashMap::from([
            (
                TENANT_VAR,
                "72f988bf-86f1-41af-91ab-2d7cd011db47".to_string(),
            ),
            (CLIENT_VAR, "app-id".to_string()),
            (SECRET_VAR, "very~secret.value".to_string()),
            (AUTHORITY_VAR, "http://127.0.0.1:9/".to_string()),
        ]));
        let c = find(&all).unwrap();
        assert_eq!(
            c.token_url(),
            "http://127.0.0.1:9/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"
        );
        assert_eq!(
            c.grant(ARM_SCOPE),
            "grant_type=client_credentials&client_id=app-id&client_secret=very%7Esecret.value\
             &scope=https%3A%2F%2Fmanagement.azure.com%2F.default"
        );
        assert!(!format!("{c:?}").contains("very~secret"));
        assert_eq!(c.mask("x very~secret.value y"), "x *** y");
    }
}
