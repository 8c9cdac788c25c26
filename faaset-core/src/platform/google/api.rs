//! The Google REST calls FaaSET makes: Cloud Run Admin API v2 (services, operations) and
//! Artifact Registry v1 (repositories, operations), with an OAuth2 access token. Shapes are
//! those of the discovery documents `run.v2.json` and `artifactregistry.v1.json` (the contract
//! test checks every request against them).
//!
//! Endpoints can be moved (tests, private endpoints) with `FAASET_GOOGLE_RUN_ENDPOINT`,
//! `FAASET_GOOGLE_ARTIFACT_ENDPOINT`, `FAASET_GOOGLE_REGISTRY` and
//! `FAASET_GOOGLE_TOKEN_ENDPOINT` (docs/google.md).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::credentials::{Credentials, Secret, Want};
use super::image::Destination;
use super::settings::Settings;
use crate::error::{Error, Result};
use crate::platform::Env;

pub const RUN_ENDPOINT_VAR: &str = "FAASET_GOOGLE_RUN_ENDPOINT";
pub const ARTIFACT_ENDPOINT_VAR: &str = "FAASET_GOOGLE_ARTIFACT_ENDPOINT";
pub const REGISTRY_VAR: &str = "FAASET_GOOGLE_REGISTRY";

/// How long a long-running operation (a new revision, a repository) may take.
const OPERATION_LIMIT: Duration = Duration::from_secs(900);
/// One control-plane request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The endpoints of one configuration.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub run: String,
    pub artifact: String,
    /// The Docker registry host, `{region}-docker.pkg.dev` (or the override; an `http://`
    /// override means a plain-http test registry).
    pub registry: String,
    pub registry_http: bool,
}

impl Endpoints {
    pub fn new(settings: &Settings, env: &dyn Env) -> Endpoints {
        let trim = |s: String| s.trim_end_matches('/').to_string();
        let registry = env
            .var(REGISTRY_VAR)
            .unwrap_or_else(|| format!("{}-docker.pkg.dev", settings.region));
        let (registry, registry_http) = match registry.strip_prefix("http://") {
            Some(host) => (host.to_string(), true),
            None => (
                registry
                    .strip_prefix("https://")
                    .unwrap_or(&registry)
                    .to_string(),
                false,
            ),
        };
        Endpoints {
            run: trim(
                env.var(RUN_ENDPOINT_VAR)
                    .unwrap_or_else(|| "https://run.googleapis.com".into()),
            ),
            artifact: trim(
                env.var(ARTIFACT_ENDPOINT_VAR)
                    .unwrap_or_else(|| "https://artifactregistry.googleapis.com".into()),
            ),
            registry: trim(registry),
            registry_http,
        }
    }

    /// Where the function's image goes: `{registry}/{project}/{repository}/{service}`.
    pub fn destination(&self, settings: &Settings, service: &str) -> Destination {
        Destination {
            registry: self.registry.clone(),
            http: self.registry_http,
            repository: format!("{}/{}/{service}", settings.project, settings.repository),
        }
    }
}

/// An authenticated client of the control plane.
pub struct Api {
    pub http: reqwest::Client,
    pub credentials: Credentials,
    pub access: Secret,
    pub endpoints: Endpoints,
}

impl Api {
    /// Finds the credentials and trades them for an access token.
    pub async fn connect(settings: &Settings, env: &(dyn Env + Sync)) -> Result<Api> {
        let credentials = super::credentials::find(env)?;
        let http = crate::platform::http_client()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(usize::MAX)
            .build()
            .map_err(|e| Error::Internal(format!("HTTP client: {e}")))?;
        let access = credentials.token(&http, Want::Access).await?;
        Ok(Api {
            http,
            credentials,
            access,
            endpoints: Endpoints::new(settings, env),
        })
    }

    /// Sends a request with the access token; the status and the body as JSON (`Null` when
    /// not JSON). A transport failure is an error naming the endpoint variable to check.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
        variable: &str,
    ) -> Result<(reqwest::StatusCode, Value)> {
        let response = request
            .bearer_auth(self.access.expose())
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| {
                Error::Usage(format!(
                    "cannot reach Google at {url}: {}: check the network (or {variable})",
                    super::error_chain(&e)
                ))
            })?;
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// A refused call as one line: Google's error message, and what to check for 401/403.
    fn refused(&self, what: &str, url: &str, status: reqwest::StatusCode, body: &Value) -> Error {
        let message = body["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| body.to_string().chars().take(200).collect());
        let hint = match status.as_u16() {
            401 | 403 => format!(
                " (the credentials of {} lack a role, or the API is not enabled for the project: \
                 they need roles/run.admin, roles/iam.serviceAccountUser and \
                 roles/artifactregistry.writer)",
                self.credentials.source
            ),
            _ => String::new(),
        };
        Error::Usage(self.credentials.mask(&format!(
            "Google {what}: {url} answered {status}: {message}{hint}"
        )))
    }

    /// `GET {run}/v2/{parent}/services/{id}`: the service, `None` when there is none.
    pub async fn get_service(&self, settings: &Settings, id: &str) -> Result<Option<Value>> {
        let url = format!(
            "{}/v2/{}/services/{id}",
            self.endpoints.run,
            settings.parent()
        );
        let (status, body) = self
            .send(self.http.get(&url), &url, RUN_ENDPOINT_VAR)
            .await?;
        match status.as_u16() {
            200 => Ok(Some(body)),
            404 => Ok(None),
            _ => Err(self.refused("get service", &url, status, &body)),
        }
    }

    /// `GET {run}/v2/{parent}/services?pageSize=1`: whether the project and region take the
    /// credentials (preflight).
    pub async fn list_services(&self, settings: &Settings) -> Result<()> {
        let url = format!("{}/v2/{}/services", self.endpoints.run, settings.parent());
        let request = self.http.get(&url).query(&[("pageSize", "1")]);
        let (status, body) = self.send(request, &url, RUN_ENDPOINT_VAR).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(self.refused("list services", &url, status, &body))
        }
    }

    /// `PATCH {run}/v2/{name}?allowMissing=true`: creates or updates the service (a new
    /// revision) named `name`; waits for the operation.
    pub async fn upsert_service(&self, name: &str, service: &Value) -> Result<()> {
        let url = format!("{}/v2/{name}", self.endpoints.run);
        let request = self
            .http
            .patch(&url)
            .query(&[("allowMissing", "true")])
            .json(service);
        let (status, operation) = self.send(request, &url, RUN_ENDPOINT_VAR).await?;
        if !status.is_success() {
            return Err(self.refused("service update", &url, status, &operation));
        }
        self.wait(&self.endpoints.run, "v2", operation, RUN_ENDPOINT_VAR)
            .await
            .map(|_| ())
    }

    /// Makes sure the Artifact Registry repository exists (a DOCKER repository in the
    /// service's region); `true` when it was created now.
    pub async fn ensure_repository(&self, settings: &Settings) -> Result<bool> {
        let parent = settings.parent();
        let url = format!(
            "{}/v1/{parent}/repositories/{}",
            self.endpoints.artifact, settings.repository
        );
        let (status, body) = self
            .send(self.http.get(&url), &url, ARTIFACT_ENDPOINT_VAR)
            .await?;
        match status.as_u16() {
            200 if body["format"] == "DOCKER" => return Ok(false),
            200 => {
                return Err(Error::Config(format!(
                    "the Artifact Registry repository {} in {} holds {} packages, not Docker \
                     images: choose another \"repository\"",
                    settings.repository, settings.region, body["format"]
                )))
            }
            404 => {}
            _ => return Err(self.refused("get repository", &url, status, &body)),
        }
        let url = format!("{}/v1/{parent}/repositories", self.endpoints.artifact);
        let request = self
            .http
            .post(&url)
            .query(&[("repositoryId", settings.repository.as_str())])
            .json(&serde_json::json!({
                "format": "DOCKER",
                "description": "Images of FaaSET functions",
            }));
        let (status, operation) = self.send(request, &url, ARTIFACT_ENDPOINT_VAR).await?;
        if !status.is_success() {
            return Err(self.refused("create repository", &url, status, &operation));
        }
        self.wait(
            &self.endpoints.artifact,
            "v1",
            operation,
            ARTIFACT_ENDPOINT_VAR,
        )
        .await?;
        Ok(true)
    }

    /// Polls a long-running operation (`GET {endpoint}/{version}/{name}`) until it is done;
    /// its `response`, or its `error` as one line.
    async fn wait(
        &self,
        endpoint: &str,
        version: &str,
        mut operation: Value,
        variable: &str,
    ) -> Result<Value> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(250);
        loop {
            if operation["done"] == true {
                if let Some(error) = operation.get("error") {
                    return Err(Error::Usage(self.credentials.mask(&format!(
                        "Google operation {} failed: {} (code {})",
                        operation["name"].as_str().unwrap_or("?"),
                        error["message"].as_str().unwrap_or("no message"),
                        error["code"]
                    ))));
                }
                return Ok(operation["response"].clone());
            }
            let Some(name) = operation["name"].as_str().filter(|n| is_operation_name(n)) else {
                return Err(Error::Usage(format!(
                    "Google answered {endpoint} with no operation to wait for: {}",
                    operation.to_string().chars().take(200).collect::<String>()
                )));
            };
            if started.elapsed() > OPERATION_LIMIT {
                return Err(Error::Usage(format!(
                    "Google operation {name} was not done after {} s: see the Cloud console",
                    OPERATION_LIMIT.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
            let url = format!("{endpoint}/{version}/{name}");
            let (status, body) = self.send(self.http.get(&url), &url, variable).await?;
            if !status.is_success() {
                return Err(self.refused("operation", &url, status, &body));
            }
            operation = body;
        }
    }
}

/// `projects/{p}/locations/{l}/operations/{id}`, nothing else (it becomes a URL path).
fn is_operation_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    parts.len() == 6
        && parts[0] == "projects"
        && parts[2] == "locations"
        && parts[4] == "operations"
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
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
    fn endpoints_default_to_google_and_move_with_the_variables() {
        let config = serde_json::json!({"project": "my-project-1", "region": "europe-west1"});
        let settings = Settings::from_config(config.as_object().unwrap()).unwrap();
        let e = Endpoints::new(&settings, &Vars(HashMap::new()));
        assert_eq!(e.run, "https://run.googleapis.com");
        assert_eq!(e.artifact, "https://artifactregistry.googleapis.com");
        assert_eq!(
            (e.registry.as_str(), e.registry_http),
            ("europe-west1-docker.pkg.dev", false)
        );
        assert_eq!(
            e.destination(&settings, "hello-world")
                .by_digest("sha256:0"),
            "europe-west1-docker.pkg.dev/my-project-1/faaset/hello-world@sha256:0"
        );
        let moved = Vars(HashMap::from([
            (RUN_ENDPOINT_VAR, "http://127.0.0.1:1/".to_string()),
            (REGISTRY_VAR, "http://127.0.0.1:5000".to_string()),
        ]));
        let e = Endpoints::new(&settings, &moved);
        assert_eq!(e.run, "http://127.0.0.1:1");
        assert_eq!(
            (e.registry.as_str(), e.registry_http),
            ("127.0.0.1:5000", true)
        );
    }

    #[test]
    fn operation_names_are_checked_before_they_become_paths() {
        assert!(is_operation_name(
            "projects/p/locations/us-central1/operations/abc-123"
        ));
        for bad in [
            "projects/p/locations/l/operations/../x",
            "operations/x",
            "projects/p/locations/l/operations/a?b",
            "",
        ] {
            assert!(!is_operation_name(bad), "{bad}");
        }
    }
}
