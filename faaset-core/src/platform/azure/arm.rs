//! The Azure REST calls FaaSET makes: Azure Resource Manager (resource group, storage account,
//! blob container, plan, function app, app settings, keys, the function list) and OneDeploy on
//! the app's SCM site (`POST /api/publish`, then the deployment polled). ARM's long-running
//! operations are followed as ARM documents them: a 201/202 with `Azure-AsyncOperation` (poll
//! until `status` is terminal) or `Location` (poll until it stops answering 202), else the
//! resource's `provisioningState`.
//!
//! The api-versions are the defaults of the SDKs the contract test compares with
//! (azure-mgmt-resource 26.0.0, azure-mgmt-storage 25.3.0, azure-mgmt-web 11.0.1). ARM can be
//! moved with `FAASET_AZURE_ARM_ENDPOINT` (tests); an `http://` endpoint means the app's hosts
//! are plain http too (a loopback test's).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Map, Value};

use super::credentials::{Credentials, ARM_SCOPE};
use crate::auth::Secret;
use crate::error::chain as error_chain;
use crate::error::{Error, Result};
use crate::platform::Env;

pub const ARM_ENDPOINT_VAR: &str = "FAASET_AZURE_ARM_ENDPOINT";
pub const DEFAULT_ARM: &str = "https://management.azure.com";
/// azure-mgmt-resource 26.0.0's `ResourceManagementClient`.
pub const RESOURCES_API: &str = "2025-04-01";
/// azure-mgmt-storage 25.3.0's `StorageManagementClient`.
pub const STORAGE_API: &str = "2026-09-01";
/// azure-mgmt-web 11.0.1's `WebSiteManagementClient`.
pub const WEB_API: &str = "2025-05-01";

/// How long an ARM operation or a deployment may take.
const OPERATION_LIMIT: Duration = Duration::from_secs(900);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// An ARM answer: status, the `Azure-AsyncOperation` and `Location` headers, the body as JSON
/// (`Null` when none).
struct Answer {
    status: reqwest::StatusCode,
    async_operation: Option<String>,
    location: Option<String>,
    body: Value,
}

/// An authenticated ARM client.
pub struct Api {
    pub http: reqwest::Client,
    pub credentials: Credentials,
    pub token: Secret,
    pub endpoint: String,
}

impl Api {
    /// Finds the service principal and trades it for an ARM token.
    pub async fn connect(env: &(dyn Env + Sync)) -> Result<Api> {
        let credentials = super::credentials::find(env)?;
        let http = crate::platform::http_client()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(usize::MAX)
            .build()
            .map_err(|e| Error::Internal(format!("HTTP client: {e}")))?;
        let token = credentials.token(&http, ARM_SCOPE).await?;
        let endpoint = env
            .var(ARM_ENDPOINT_VAR)
            .unwrap_or_else(|| DEFAULT_ARM.into())
            .trim_end_matches('/')
            .to_string();
        Ok(Api {
            http,
            credentials,
            token,
            endpoint,
        })
    }

    /// `https`, or `http` for a plain-http (test) ARM endpoint: the scheme of the app's hosts.
    pub fn site_scheme(&self) -> &'static str {
        if self.endpoint.starts_with("http://") {
            "http"
        } else {
            "https"
        }
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer> {
        let mut request = self
            .http
            .request(method, url)
            .query(query)
            .bearer_auth(self.token.expose())
            .timeout(REQUEST_TIMEOUT);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            Error::Usage(format!(
                "cannot reach Azure at {url}: {}: check the network (or {ARM_ENDPOINT_VAR})",
                error_chain(&e)
            ))
        })?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (async_operation, location) = (header("azure-asyncoperation"), header("location"));
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        Ok(Answer {
            status,
            async_operation,
            location,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    /// An ARM call on `path` with `api_version`.
    async fn arm(
        &self,
        method: Method,
        path: &str,
        api_version: &str,
        extra: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer> {
        let url = format!("{}{path}", self.endpoint);
        let mut query = vec![("api-version", api_version)];
        query.extend_from_slice(extra);
        self.send(method, &url, &query, body).await
    }

    /// A refused call as one line: ARM's error code and message, and for 401/403 what to grant.
    fn refused(&self, what: &str, path: &str, answer: &Answer) -> Error {
        let error = &answer.body["error"];
        let message = match (error["code"].as_str(), error["message"].as_str()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            _ => answer.body.to_string().chars().take(200).collect(),
        };
        let hint = match answer.status.as_u16() {
            401 | 403 => format!(
                " (the service principal {} needs the Contributor role on the subscription or \
                 resource group)",
                self.credentials.client_id
            ),
            _ => String::new(),
        };
        Error::Usage(self.credentials.mask(&format!(
            "Azure {what}: {path} answered {}: {message}{hint}",
            answer.status
        )))
    }

    /// GET a resource: `None` on 404.
    async fn get(&self, what: &str, path: &str, api: &str) -> Result<Option<Value>> {
        let answer = self.arm(Method::GET, path, api, &[], None).await?;
        match answer.status.as_u16() {
            200 => Ok(Some(answer.body)),
            404 => Ok(None),
            _ => Err(self.refused(what, path, &answer)),
        }
    }

    /// PUT a resource and wait for ARM to finish it.
    async fn put(&self, what: &str, path: &str, api: &str, body: &Value) -> Result<Value> {
        let answer = self.arm(Method::PUT, path, api, &[], Some(body)).await?;
        if !answer.status.is_success() {
            return Err(self.refused(what, path, &answer));
        }
        self.finish(what, path, api, answer).await
    }

    /// Follows a long-running operation to its end; the resource as ARM then has it.
    async fn finish(&self, what: &str, path: &str, api: &str, answer: Answer) -> Result<Value> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(250);
        let wait = |pause: &mut Duration| {
            let d = *pause;
            *pause = (*pause * 2).min(Duration::from_secs(5));
            tokio::time::sleep(d)
        };
        let late = |started: Instant| {
            (started.elapsed() > OPERATION_LIMIT).then(|| {
                Error::Usage(format!(
                    "Azure {what} of {path} was not done after {} s: see the Azure portal",
                    OPERATION_LIMIT.as_secs()
                ))
            })
        };
        if let Some(url) = answer.async_operation.filter(|_| answer.status != 200) {
            loop {
                if let Some(e) = late(started) {
                    return Err(e);
                }
                wait(&mut pause).await;
                let poll = self.send(Method::GET, &url, &[], None).await?;
                if !poll.status.is_success() {
                    return Err(self.refused(what, path, &poll));
                }
                match poll.body["status"].as_str().unwrap_or("") {
                    "Succeeded" => break,
                    "Failed" | "Canceled" => {
                        let error = &poll.body["error"];
                        return Err(Error::Usage(self.credentials.mask(&format!(
                            "Azure {what} of {path} failed: {}: {}",
                            error["code"].as_str().unwrap_or("no code"),
                            error["message"].as_str().unwrap_or("no message")
                        ))));
                    }
                    _ => {}
                }
            }
            return Ok(self.get(what, path, api).await?.unwrap_or(Value::Null));
        }
        if let Some(url) = answer.location.filter(|_| answer.status == 202) {
            loop {
                if let Some(e) = late(started) {
                    return Err(e);
                }
                wait(&mut pause).await;
                let poll = self.send(Method::GET, &url, &[], None).await?;
                match poll.status.as_u16() {
                    202 => continue,
                    200..=299 if poll.body.is_object() => return Ok(poll.body),
                    200..=299 => return Ok(self.get(what, path, api).await?.unwrap_or_default()),
                    _ => return Err(self.refused(what, path, &poll)),
                }
            }
        }
        let mut resource = answer.body;
        loop {
            match resource["properties"]["provisioningState"].as_str() {
                None | Some("Succeeded") => return Ok(resource),
                Some(state @ ("Failed" | "Canceled")) => {
                    return Err(Error::Usage(format!(
                        "Azure {what} of {path} ended {state}: see the resource in the Azure portal"
                    )))
                }
                Some(_) => {}
            }
            if let Some(e) = late(started) {
                return Err(e);
            }
            wait(&mut pause).await;
            resource = self.get(what, path, api).await?.unwrap_or_default();
        }
    }

    pub async fn get_resource_group(&self, path: &str) -> Result<Option<Value>> {
        self.get("get resource group", path, RESOURCES_API).await
    }

    pub async fn put_resource_group(&self, path: &str, body: &Value) -> Result<()> {
        self.put("create resource group", path, RESOURCES_API, body)
            .await
            .map(|_| ())
    }

    pub async fn get_storage_account(&self, path: &str) -> Result<Option<Value>> {
        self.get("get storage account", path, STORAGE_API).await
    }

    pub async fn create_storage_account(&self, path: &str, body: &Value) -> Result<()> {
        self.put("create storage account", path, STORAGE_API, body)
            .await
            .map(|_| ())
    }

    /// The storage account's first key (`POST …/listKeys?$expand=kerb`, as the SDK asks).
    pub async fn storage_key(&self, account_path: &str) -> Result<Secret> {
        let path = format!("{account_path}/listKeys");
        let answer = self
            .arm(
                Method::POST,
                &path,
                STORAGE_API,
                &[("$expand", "kerb")],
                None,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(self.refused("list storage keys", &path, &answer));
        }
        answer.body["keys"][0]["value"]
            .as_str()
            .map(Secret::new)
            .ok_or_else(|| Error::Usage(format!("Azure answered {path} with no key")))
    }

    /// Creates the package container; one that exists already is fine.
    pub async fn ensure_container(&self, path: &str) -> Result<()> {
        let body = Value::Object(Map::new());
        let answer = self
            .arm(Method::PUT, path, STORAGE_API, &[], Some(&body))
            .await?;
        match answer.status.as_u16() {
            200 | 201 | 409 => Ok(()),
            _ => Err(self.refused("create blob container", path, &answer)),
        }
    }

    pub async fn put_plan(&self, path: &str, body: &Value) -> Result<()> {
        self.put("create or update plan", path, WEB_API, body)
            .await
            .map(|_| ())
    }

    pub async fn put_site(&self, path: &str, body: &Value) -> Result<Value> {
        self.put("create or update function app", path, WEB_API, body)
            .await
    }

    pub async fn get_site(&self, path: &str) -> Result<Option<Value>> {
        self.get("get function app", path, WEB_API).await
    }

    /// `POST …/config/appsettings/list`: the app settings (their values include the storage
    /// connection string: kept in memory).
    pub async fn app_settings(&self, site: &str) -> Result<Map<String, Value>> {
        let path = format!("{site}/config/appsettings/list");
        let answer = self.arm(Method::POST, &path, WEB_API, &[], None).await?;
        if !answer.status.is_success() {
            return Err(self.refused("list app settings", &path, &answer));
        }
        Ok(answer.body["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default())
    }

    /// `PUT …/config/appsettings`: replaces the app settings (the app restarts).
    pub async fn put_app_settings(&self, site: &str, settings: &[(String, String)]) -> Result<()> {
        let path = format!("{site}/config/appsettings");
        let properties: Map<String, Value> = settings
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let body = serde_json::json!({ "properties": properties });
        let answer = self
            .arm(Method::PUT, &path, WEB_API, &[], Some(&body))
            .await?;
        if !answer.status.is_success() {
            return Err(self.refused("update app settings", &path, &answer));
        }
        Ok(())
    }

    /// The names of the functions the host of the app lists (`GET …/functions`).
    pub async fn functions(&self, site: &str) -> Result<Vec<String>> {
        let path = format!("{site}/functions");
        let answer = self.arm(Method::GET, &path, WEB_API, &[], None).await?;
        if !answer.status.is_success() {
            return Err(self.refused("list functions", &path, &answer));
        }
        Ok(answer.body["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                f["properties"]["name"]
                    .as_str()
                    .or_else(|| f["name"].as_str().and_then(|n| n.rsplit('/').next()))
                    .map(str::to_string)
            })
            .collect())
    }

    /// The host's default function key (`POST …/host/default/listkeys`).
    pub async fn function_key(&self, site: &str) -> Result<Secret> {
        let path = format!("{site}/host/default/listkeys");
        let answer = self.arm(Method::POST, &path, WEB_API, &[], None).await?;
        if !answer.status.is_success() {
            return Err(self.refused("list host keys", &path, &answer));
        }
        answer.body["functionKeys"]["default"]
            .as_str()
            .map(Secret::new)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "Azure answered {path} with no default function key: the function app's host \
                     may not be running yet; try again"
                ))
            })
    }

    /// OneDeploy: `POST {scm}/api/publish?RemoteBuild=false` with the zip (the ARM token as
    /// bearer), then `GET {scm}/api/deployments/{id}` until its status is 4 (success) or 3
    /// (failed). The deployment's id is the answer's body, else `latest`.
    pub async fn one_deploy(&self, scm: &str, zip: Vec<u8>) -> Result<()> {
        let url = format!("{scm}/api/publish");
        let answer = self
            .http
            .post(&url)
            .query(&[("RemoteBuild", "false")])
            .bearer_auth(self.token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/zip")
            .timeout(Duration::from_secs(600))
            .body(zip)
            .send()
            .await
            .map_err(|e| {
                Error::Usage(format!(
                    "cannot reach the function app's SCM site at {url}: {}",
                    error_chain(&e)
                ))
            })?;
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(Error::Usage(format!(
                "Azure OneDeploy {}",
                crate::platform::answered(&url, status, text.as_bytes())
            )));
        }
        let id = deployment_id(&text);
        let url = format!("{scm}/api/deployments/{id}");
        let started = Instant::now();
        let mut pause = Duration::from_millis(250);
        loop {
            let poll = self
                .http
                .get(&url)
                .bearer_auth(self.token.expose())
                .timeout(REQUEST_TIMEOUT)
                .send()
                .await
                .map_err(|e| Error::Usage(format!("cannot reach {url}: {}", error_chain(&e))))?;
            let status = poll.status();
            let body: Value = poll.json().await.unwrap_or(Value::Null);
            if status.is_success() {
                match body["status"].as_i64() {
                    Some(4) => return Ok(()),
                    Some(3) => {
                        return Err(Error::Usage(format!(
                            "Azure OneDeploy deployment {id} failed: {}",
                            body["status_text"]
                                .as_str()
                                .filter(|t| !t.is_empty())
                                .unwrap_or(
                                    "no message: see the deployment log in the Azure portal"
                                )
                        )))
                    }
                    _ => {}
                }
            } else if status.as_u16() != 404 {
                return Err(Error::Usage(format!(
                    "Azure OneDeploy {}",
                    crate::platform::answered(&url, status, body.to_string().as_bytes())
                )));
            }
            if started.elapsed() > OPERATION_LIMIT {
                return Err(Error::Usage(format!(
                    "Azure OneDeploy deployment {id} was not done after {} s",
                    OPERATION_LIMIT.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(3));
        }
    }
}

/// The deployment id OneDeploy answered (a GUID, possibly quoted JSON), else `latest`; only
/// URL-safe ids are taken, since it becomes a path.
fn deployment_id(text: &str) -> String {
    let id = text.trim().trim_matches('"');
    let id = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_string))
        .unwrap_or_else(|| id.to_string());
    if !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        id
    } else {
        "latest".into()
    }
}

/// The host names of a function app: the default one (calls) and the SCM one (OneDeploy),
/// from `defaultHostName` and the `Repository` entry of `hostNameSslStates` (Flex gives new
/// apps unique names like `{app}-{hash}.{region}-01.azurewebsites.net`, so they are read, not
/// built).
pub fn hosts(site: &Value) -> Option<(String, String)> {
    let properties = &site["properties"];
    let default = properties["defaultHostName"].as_str()?.to_string();
    let scm = properties["hostNameSslStates"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["hostType"] == "Repository")
        .and_then(|h| h["name"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| match default.split_once('.') {
            Some((first, rest)) => format!("{first}.scm.{rest}"),
            None => default.clone(),
        });
    let safe = |h: &str| {
        !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':'))
    };
    (safe(&default) && safe(&scm)).then_some((default, scm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hosts_come_from_the_site() {
        let site = json!({"properties": {
        "defaultHostName": "f-1a2b.eastus-01.azurewebsites.net",
        "hostNameSslStates": [
            {"name": "f-1a2b.eastus-01.azurewebsites.net", "hostType": "Standard"},
            {"name": "f-1a2b.scm.eastus-01.azurewebsites.net", "hostType": "Repository"}
        ]}});
        assert_eq!(
            hosts(&site),
            Some((
                "f-1a2b.eastus-01.azurewebsites.net".into(),
                "f-1a2b.scm.eastus-01.azurewebsites.net".into()
            ))
        );
        let bare = json!({"properties": {"defaultHostName": "f.azurewebsites.net"}});
        assert_eq!(hosts(&bare).unwrap().1, "f.scm.azurewebsites.net");
        assert_eq!(
            hosts(&json!({"properties": {"defaultHostName": "a/b"}})),
            None
        );
        assert_eq!(hosts(&json!({})), None);
    }

    #[test]
    fn deployment_ids_are_checked_before_they_become_paths() {
        assert_eq!(
            deployment_id("\"7b3f6c1e-2a4d-4e5f-9a8b-0c1d2e3f4a5b\"\n"),
            "7b3f6c1e-2a4d-4e5f-9a8b-0c1d2e3f4a5b"
        );
        assert_eq!(deployment_id(r#"{"id": "abc"}"#), "abc");
        assert_eq!(deployment_id(""), "latest");
        assert_eq!(deployment_id("../x"), "latest");
    }
}
