//! The `openwhisk` platform: a function as an Apache OpenWhisk action on any deployment
//! (standalone, Kubernetes), through the controller's REST API (`/api/v1`, HTTP Basic with the
//! `uuid:key` of `~/.wskprops`).
//!
//! Building is `platforms/openwhisk/build.sh`: a fully static x86_64 `exec` (the same binary
//! speaks the ActionLoop and the dockerskeleton protocols, docs/function-runtime.md), zipped.
//! Publishing checks the configuration against the limits the deployment announces at
//! `GET {apihost}/`, then `PUT …/actions/{name}?overwrite=true`: with the zip after a build,
//! with the limits only on a configuration change (the controller keeps the stored code when a
//! PUT carries no `exec`). Calls are blocking invokes; the activation record gives the row
//! fields (`activation`).
//!
//! Modules: `credentials` (wskprops, the masked key), `activation` (the record).

pub mod activation;
pub mod credentials;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::{Answer, Deployment, Driver, Target};
use crate::config::{Config, KeySpec, Kind};
use crate::error::chain as error_chain;
use crate::error::{Error, Result};
use crate::progress::Sink;
use activation::Activation;
use credentials::Resolved;

/// Apache OpenWhisk through its REST API.
pub struct OpenWhisk;

const fn key(key: &'static str, kind: Kind) -> KeySpec {
    KeySpec { key, kind }
}

/// The platform's keys. `memory` and `timeout` are checked here only for sanity: the real
/// range is the deployment's (`GET {apihost}/`), checked before deploying.
pub const CONFIG_KEYS: &[KeySpec] = &[
    key("apihost", Kind::Text),
    key("auth", Kind::Text),
    key("namespace", Kind::Text),
    key(
        "memory",
        Kind::Integer {
            min: 1,
            max: 1_048_576,
            unit: " MB",
        },
    ),
    // Seconds, as every FaaSET platform's `timeout` (DESIGN §1.4); sent as milliseconds.
    key(
        "timeout",
        Kind::Number {
            min: 0.001,
            max: 86_400.0,
            unit: " seconds",
        },
    ),
    key(
        "concurrency",
        Kind::Integer {
            min: 1,
            max: 10_000,
            unit: "",
        },
    ),
    key("kind", Kind::Text),
    key("env", Kind::StringMap),
    key("insecure", Kind::Boolean),
    // A self-hosted deployment bills nothing: the sweep's cost column uses Lambda's list price
    // unless the user prices their cluster.
    key(
        super::pricing::PRICE_PER_GB_SECOND_KEY,
        Kind::Number {
            min: 0.0,
            max: 1.0,
            unit: " USD",
        },
    ),
    key(
        super::pricing::PRICE_PER_REQUEST_KEY,
        Kind::Number {
            min: 0.0,
            max: 1.0,
            unit: " USD",
        },
    ),
];

/// The image of `kind: blackbox` actions: OpenWhisk's own skeleton, which runs `exec`.
pub const BLACKBOX_IMAGE: &str = "openwhisk/dockerskeleton";

/// The managed kind used when the deployment has it: its image runs a zipped ELF `exec`
/// under the ActionLoop proxy without compiling anything.
pub const PREFERRED_KIND: &str = "rust:1.34";

/// How long a call may take beyond the action's own timeout (cold start, queueing) before
/// FaaSET stops waiting for its record.
const CALL_MARGIN: Duration = Duration::from_secs(60);

/// Requests other than invokes (discovery, publish).
const CONTROL_TIMEOUT: Duration = Duration::from_secs(120);

#[async_trait]
impl Driver for OpenWhisk {
    fn name(&self) -> &'static str {
        "openwhisk"
    }
    fn config_keys(&self) -> &'static [KeySpec] {
        CONFIG_KEYS
    }
    fn reports(&self) -> &'static [&'static str] {
        activation::FIELDS
    }

    /// Besides the credentials, reads the deployment's limits (an unauthenticated GET) and
    /// tries the key (`GET /api/v1/namespaces`): a memory or timeout it refuses, an API host
    /// that is not OpenWhisk or a refused key is reported before a build that takes minutes.
    async fn preflight(&self, config: &Config) -> Result<()> {
        let api = Api::new(config)?;
        let info = api.info().await?;
        Settings::from_config(config).check(&info, &api.shown_host())?;
        api.check_key().await
    }

    async fn publish(&self, f: &Deployment<'_>, fresh: bool, sink: &dyn Sink) -> Result<()> {
        let name = f.paths.name.as_str();
        let api = Api::new(f.config)?;
        let host = api.shown_host();
        let info = api.info().await?;
        let settings = Settings::from_config(f.config);
        let kind = settings.check(&info, &host)?;
        let zip = f.paths.build_dir(f.platform.name()).join("exec.zip");
        let with_code = if fresh {
            true
        } else {
            // A configuration change: limits only, unless the action is gone (deleted by
            // hand) or its kind changes (a kind is part of `exec`), which need the code again.
            match api.get_action(name).await? {
                None => true,
                Some(action) => action["exec"]["kind"].as_str() != Some(kind.as_str()),
            }
        };
        let code = if with_code {
            if !zip.is_file() {
                return Err(Error::Usage(format!(
                    "{name} has no built code ({} is missing) to send to OpenWhisk at {host}: \
                     run `faaset deploy {name} --force`",
                    zip.display()
                )));
            }
            let bytes = std::fs::read(&zip).map_err(|e| Error::io("read", &zip, e))?;
            Some(base64::engine::general_purpose::STANDARD.encode(bytes))
        } else {
            None
        };
        sink.status(&format!(
            "{name}: PUT action on OpenWhisk at {host}, namespace {} ({}, {kind}, {} MB, {} ms)",
            api.resolved.namespace,
            if code.is_some() {
                "code and limits"
            } else {
                "limits only"
            },
            settings.memory,
            settings.timeout_ms
        ));
        let body = settings.action_body(&kind, code);
        let action = api.put_action(name, &body).await?;
        if let Some(version) = action.get("version").and_then(Value::as_str) {
            sink.status(&format!("{name}: OpenWhisk action version {version}"));
        }
        Ok(())
    }

    fn pricing(&self, config: &Config) -> super::Pricing {
        let mut pricing = super::Pricing::for_config(config);
        if !config.contains_key(super::pricing::PRICE_PER_GB_SECOND_KEY)
            && !config.contains_key(super::pricing::PRICE_PER_REQUEST_KEY)
        {
            pricing.source = format!(
                "{}, for comparison (OpenWhisk bills nothing; set price_per_gb_second to \
                 price your deployment)",
                pricing.source
            );
        }
        pricing
    }

    async fn connect(&self, f: &Deployment<'_>) -> Result<Box<dyn Target>> {
        let api = Api::new(f.config)?;
        let settings = Settings::from_config(f.config);
        let invoke = api.action_url(f.paths.name.as_str(), Some("blocking=true"));
        Ok(Box::new(Invoker {
            api,
            invoke,
            limit: Duration::from_millis(settings.timeout_ms) + CALL_MARGIN,
        }))
    }
}

/// OpenWhisk entity names (actions, packages, namespaces), as the controller's `EntityName`
/// accepts them: a word character first, then word characters, `@`, `.`, `-` and spaces, not
/// ending in a space; at most 256 characters.
pub fn is_entity_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = name.chars();
    name.len() <= 256
        && chars.next().is_some_and(word)
        && chars.all(|c| word(c) || matches!(c, '@' | '.' | '-' | ' '))
        && !name.ends_with(' ')
}

/// The action's settings from a merged configuration (checked by `config::check` already).
#[derive(Debug, Clone)]
struct Settings {
    memory: u64,
    timeout_ms: u64,
    concurrency: u64,
    kind: Option<String>,
    env: Map<String, Value>,
}

impl Settings {
    fn from_config(config: &Config) -> Settings {
        let number = |key: &str| config.get(key).and_then(Value::as_f64);
        Settings {
            memory: number("memory").unwrap_or(256.0) as u64,
            timeout_ms: (number("timeout").unwrap_or(60.0) * 1000.0).round() as u64,
            concurrency: number("concurrency").unwrap_or(1.0) as u64,
            kind: config
                .get("kind")
                .and_then(Value::as_str)
                .filter(|k| !k.is_empty() && *k != "auto")
                .map(str::to_string),
            env: config
                .get("env")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// Checks memory, timeout and concurrency against the deployment's limits and picks the
    /// kind; returns the kind.
    fn check(&self, info: &Value, host: &str) -> Result<String> {
        let limits = &info["limits"];
        let bound = |key: &str| limits.get(key).and_then(Value::as_u64);
        let refuse = |what: String, range: String| {
            Error::Config(format!(
                "{what} is outside the limits of the OpenWhisk deployment at {host}: {range} \
                 (from its GET /); choose a value in that range"
            ))
        };
        const MB: u64 = 1024 * 1024;
        if let (Some(min), Some(max)) = (bound("min_action_memory"), bound("max_action_memory")) {
            let (min, max) = (min / MB, max / MB);
            if !(min..=max).contains(&self.memory) {
                return Err(refuse(
                    format!("memory {} MB", self.memory),
                    format!("{min}–{max} MB"),
                ));
            }
        }
        if let (Some(min), Some(max)) = (bound("min_action_duration"), bound("max_action_duration"))
        {
            if !(min..=max).contains(&self.timeout_ms) {
                return Err(refuse(
                    format!("timeout {} s", self.timeout_ms as f64 / 1000.0),
                    format!("{}–{} s", min as f64 / 1000.0, max as f64 / 1000.0),
                ));
            }
        }
        if let (Some(min), Some(max)) = (
            bound("min_action_concurrency"),
            bound("max_action_concurrency"),
        ) {
            if !(min..=max).contains(&self.concurrency) {
                return Err(refuse(
                    format!("concurrency {}", self.concurrency),
                    format!("{min}–{max}"),
                ));
            }
        }
        let kinds = runtime_kinds(info);
        match &self.kind {
            None if kinds.iter().any(|k| k == PREFERRED_KIND) => Ok(PREFERRED_KIND.to_string()),
            None => Ok("blackbox".to_string()),
            Some(kind) if kind == "blackbox" => Ok(kind.clone()),
            Some(kind) if !(kind.starts_with("rust:") || kind.starts_with("go:")) => {
                Err(Error::Config(format!(
                    "config key \"kind\" is {kind:?}, which does not run a native `exec`: use \
                     \"blackbox\" or a rust: or go: kind (ActionLoop images run a zipped ELF \
                     as it is), or leave it out to let FaaSET choose"
                )))
            }
            Some(kind) if kinds.contains(kind) => Ok(kind.clone()),
            Some(kind) => Err(Error::Config(format!(
                "the OpenWhisk deployment at {host} has no kind {kind:?} (its kinds: {}); use \
                 \"blackbox\" or leave \"kind\" out",
                if kinds.is_empty() {
                    "none listed".to_string()
                } else {
                    kinds.join(", ")
                }
            ))),
        }
    }

    /// The `PUT …/actions/{name}` body (swagger `ActionPut`). `code`: the zip, base64; without
    /// it the controller keeps the action's code and kind.
    fn action_body(&self, kind: &str, code: Option<String>) -> Value {
        // The memory setting reaches the process as FAASET_MEMORY_MB (OpenWhisk does not tell
        // an action its memory): init parameters are the environment of `/init`, which the
        // ActionLoop proxy exports to the process, and never part of the call's params.
        let mut parameters = vec![json!({
            "key": "FAASET_MEMORY_MB", "value": self.memory.to_string(), "init": true
        })];
        for (name, value) in &self.env {
            parameters.push(json!({"key": name, "value": value, "init": true}));
        }
        let mut body = json!({
            "limits": {
                "memory": self.memory,
                "timeout": self.timeout_ms,
                "concurrency": self.concurrency,
                "logs": 10,
            },
            "parameters": parameters,
        });
        if let Some(code) = code {
            // No `binary`: the controller ignores it and tells a zip by its base64 code (the
            // swagger says so, and the npm client sends none).
            let mut exec = json!({"kind": kind, "code": code});
            if kind == "blackbox" {
                exec["image"] = BLACKBOX_IMAGE.into();
            }
            body["exec"] = exec;
        }
        body
    }
}

/// Every `kind` of the deployment's `runtimes` (an object of language → list of images).
fn runtime_kinds(info: &Value) -> Vec<String> {
    info["runtimes"]
        .as_object()
        .into_iter()
        .flat_map(|languages| languages.values())
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|r| r.get("kind").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// The REST API of one deployment, for one namespace and key.
struct Api {
    http: reqwest::Client,
    resolved: Resolved,
}

impl Api {
    fn new(config: &Config) -> Result<Api> {
        let resolved = credentials::resolve(config, &credentials::ProcessEnv)?;
        let insecure = config.get("insecure").and_then(Value::as_bool) == Some(true);
        let http = super::http_client()
            .danger_accept_invalid_certs(insecure)
            .tcp_nodelay(true)
            .pool_max_idle_per_host(usize::MAX)
            .build()
            .map_err(|e| Error::Internal(format!("HTTP client: {e}")))?;
        Ok(Api { http, resolved })
    }

    fn shown_host(&self) -> String {
        self.resolved
            .apihost
            .as_str()
            .trim_end_matches('/')
            .to_string()
    }

    /// `{apihost}/api/v1/namespaces/{ns}/{collection}/{name}`; each segment percent-encoded
    /// (a namespace may hold spaces and `@`).
    fn url(&self, collection: &str, name: &str, query: Option<&str>) -> reqwest::Url {
        let mut url = self.resolved.apihost.clone();
        url.path_segments_mut()
            .expect("an http(s) URL has path segments")
            .pop_if_empty()
            .extend([
                "api",
                "v1",
                "namespaces",
                self.resolved.namespace.trim_start_matches('/'),
                collection,
                name,
            ]);
        url.set_query(query);
        url
    }

    fn action_url(&self, name: &str, query: Option<&str>) -> reqwest::Url {
        self.url("actions", name, query)
    }

    /// `GET {apihost}/`: the deployment's description (limits, runtimes); needs no key.
    async fn info(&self) -> Result<Value> {
        let host = self.shown_host();
        let props = &self.resolved.props;
        let not_openwhisk = |why: String| {
            Error::Config(format!(
                "{host} is not an OpenWhisk API host ({why}): check the config key \"apihost\" \
                 or APIHOST in {props}"
            ))
        };
        let response = self
            .http
            .get(self.resolved.apihost.clone())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| {
                let chain = error_chain(&e);
                // A local deployment's own certificate is the usual TLS failure.
                let hint = if chain.contains("certificate") {
                    "; for a deployment with a self-signed certificate set the config key \
                     \"insecure\": true"
                } else {
                    ""
                };
                Error::Config(format!(
                    "cannot reach OpenWhisk at {host}: {chain}: check the config key \"apihost\" \
                     or APIHOST in {props}, and that the deployment runs{hint}"
                ))
            })?;
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            return Err(not_openwhisk(format!("GET / answered {status}")));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(info) if info.get("limits").is_some() || info.get("runtimes").is_some() => Ok(info),
            _ => Err(not_openwhisk(
                "GET / did not describe limits and runtimes".into(),
            )),
        }
    }

    /// Sends an authenticated request; the status and the body as JSON (`Null` when empty).
    /// Transport failures and refused keys are errors, with the key masked.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &reqwest::Url,
    ) -> Result<(reqwest::StatusCode, Value, bytes::Bytes)> {
        let (user, password) = self
            .resolved
            .auth
            .expose()
            .split_once(':')
            .expect("checked when resolved");
        let response = request
            .basic_auth(user, Some(password))
            .send()
            .await
            .map_err(|e| {
                Error::Usage(self.resolved.auth.mask(&format!(
                    "request to OpenWhisk ({url}) failed: {}",
                    error_chain(&e)
                )))
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            Error::Usage(format!(
                "reading the answer of OpenWhisk ({url}) failed: {}",
                error_chain(&e)
            ))
        })?;
        if matches!(status.as_u16(), 401 | 403) {
            return Err(Error::Usage(format!(
                "OpenWhisk at {} refused the key ({}) with {status} for namespace {}: check that \
                 key (`wsk property get --auth`) and the config key \"namespace\"",
                self.shown_host(),
                self.resolved.auth.describe(),
                self.resolved.namespace
            )));
        }
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok((status, json, body))
    }

    /// The failure of an API call, as one masked line.
    fn refused(
        &self,
        what: &str,
        url: &reqwest::Url,
        status: reqwest::StatusCode,
        body: &[u8],
    ) -> Error {
        let message = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .map(|m| format!("{url} answered {status}: {m}"))
            .unwrap_or_else(|| super::answered(url, status, body));
        Error::Usage(
            self.resolved
                .auth
                .mask(&format!("OpenWhisk {what}: {message}")),
        )
    }

    /// `GET {apihost}/api/v1/namespaces`: whether the deployment takes the key (a refusal is
    /// the error `send` makes of a 401/403).
    async fn check_key(&self) -> Result<()> {
        let mut url = self.resolved.apihost.clone();
        url.path_segments_mut()
            .expect("an http(s) URL has path segments")
            .pop_if_empty()
            .extend(["api", "v1", "namespaces"]);
        let request = self.http.get(url.clone()).timeout(CONTROL_TIMEOUT);
        let (status, _, body) = self.send(request, &url).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(self.refused("namespaces", &url, status, &body))
        }
    }

    /// `GET …/actions/{name}` (without code); `None` when there is no such action.
    async fn get_action(&self, name: &str) -> Result<Option<Value>> {
        let url = self.action_url(name, Some("code=false"));
        let request = self.http.get(url.clone()).timeout(CONTROL_TIMEOUT);
        let (status, json, body) = self.send(request, &url).await?;
        match status.as_u16() {
            200 => Ok(Some(json)),
            404 => Ok(None),
            _ => Err(self.refused("get action", &url, status, &body)),
        }
    }

    /// `PUT …/actions/{name}?overwrite=true`: creates or updates; the stored action.
    async fn put_action(&self, name: &str, action: &Value) -> Result<Value> {
        let url = self.action_url(name, Some("overwrite=true"));
        let request = self
            .http
            .put(url.clone())
            .timeout(CONTROL_TIMEOUT)
            .json(action);
        let (status, json, body) = self.send(request, &url).await?;
        if status.is_success() {
            Ok(json)
        } else {
            Err(self.refused("publish", &url, status, &body))
        }
    }
}

/// Calls of one action: blocking invokes, polling the record when the call outlives the
/// controller's blocking window (202).
struct Invoker {
    api: Api,
    invoke: reqwest::Url,
    /// How long one call may take in all (the action's timeout plus a margin).
    limit: Duration,
}

impl Invoker {
    async fn call(&self, payload: bytes::Bytes) -> Answer {
        // OpenWhisk passes an action its params: a JSON object.
        if !matches!(
            serde_json::from_slice::<Value>(&payload),
            Ok(Value::Object(_))
        ) {
            return failed(
                "OpenWhisk passes an action a JSON object: wrap the payload in one, like \
                 {\"input\": [1, 2]}"
                    .to_string(),
            );
        }
        let started = Instant::now();
        let request = self
            .api
            .http
            .post(self.invoke.clone())
            .timeout(self.limit)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(payload);
        let (status, json, body) = match self.api.send(request, &self.invoke).await {
            Ok(answer) => answer,
            Err(e) => return failed(e.to_string()),
        };
        match status.as_u16() {
            200 | 502 => from_record(&json),
            202 => match activation::accepted_id(&json) {
                Some(id) => self.poll(id, started).await,
                None => failed(
                    self.api
                        .refused("invoke", &self.invoke, status, &body)
                        .to_string(),
                ),
            },
            _ => failed(
                self.api
                    .refused("invoke", &self.invoke, status, &body)
                    .to_string(),
            ),
        }
    }

    /// `GET …/activations/{id}` until the record exists (404 until the activation ends).
    async fn poll(&self, id: &str, started: Instant) -> Answer {
        if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return failed(format!("OpenWhisk answered an odd activation id {id:?}"));
        }
        let url = self.api.url("activations", id, None);
        let mut pause = Duration::from_millis(100);
        loop {
            let request = self.api.http.get(url.clone()).timeout(CONTROL_TIMEOUT);
            match self.api.send(request, &url).await {
                Ok((status, json, _)) if status.is_success() => return from_record(&json),
                Ok((status, _, _)) if status.as_u16() == 404 => {}
                Ok((status, _, body)) => {
                    return failed(
                        self.api
                            .refused("activation", &url, status, &body)
                            .to_string(),
                    )
                }
                Err(e) => return failed(e.to_string()),
            }
            if started.elapsed() > self.limit {
                return failed(format!(
                    "activation {id} had no record after {:.0} s (the action's timeout plus \
                     {} s): see `wsk activation get {id}`",
                    self.limit.as_secs_f64(),
                    CALL_MARGIN.as_secs()
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}

#[async_trait]
impl Target for Invoker {
    async fn call(&self, payload: bytes::Bytes) -> Result<Answer> {
        Ok(Invoker::call(self, payload).await)
    }
}

/// An answer from an activation record.
fn from_record(record: &Value) -> Answer {
    match Activation::parse(record) {
        Ok(a) => Answer {
            body: a.body().to_string().into(),
            function_error: !a.success,
            report: a.report(),
        },
        Err(why) => failed(format!("OpenWhisk answered no activation record: {why}")),
    }
}

fn failed(message: String) -> Answer {
    Answer::failed("OpenWhiskError", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(v: Value) -> Config {
        v.as_object().unwrap().clone()
    }

    /// A `GET /` description as the controller's `info` route writes it (bytes, ms).
    fn info(kinds: &[&str]) -> Value {
        json!({
            "description": "OpenWhisk", "api_paths": ["/api/v1"],
            "limits": {"min_action_memory": 134217728u64, "max_action_memory": 536870912u64,
                       "min_action_duration": 100, "max_action_duration": 300000,
                       "min_action_concurrency": 1, "max_action_concurrency": 1,
                       "concurrent_actions": 30, "actions_per_minute": 60},
            "runtimes": {"rust": kinds.iter().map(|k| json!({"kind": k, "default": true})).collect::<Vec<_>>(),
                         "nodejs": [{"kind": "nodejs:20"}]},
        })
    }

    #[test]
    fn limits_of_the_deployment_are_checked() {
        let s = |v: Value| Settings::from_config(&config(v));
        let host = "http://ow";
        let i = info(&["rust:1.34"]);
        assert_eq!(
            s(json!({"memory": 256, "timeout": 60}))
                .check(&i, host)
                .unwrap(),
            "rust:1.34"
        );
        let m = s(json!({"memory": 1024}))
            .check(&i, host)
            .unwrap_err()
            .to_string();
        assert_eq!(
            m,
            "memory 1024 MB is outside the limits of the OpenWhisk deployment at http://ow: \
             128–512 MB (from its GET /); choose a value in that range"
        );
        let m = s(json!({"timeout": 0.05}))
            .check(&i, host)
            .unwrap_err()
            .to_string();
        assert!(
            m.starts_with("timeout 0.05 s is outside") && m.contains("0.1–300 s"),
            "{m}"
        );
        let m = s(json!({"concurrency": 4}))
            .check(&i, host)
            .unwrap_err()
            .to_string();
        assert!(m.starts_with("concurrency 4 is outside"), "{m}");
    }

    #[test]
    fn the_kind_is_chosen_from_the_deployments_runtimes() {
        let s = |v: Value| Settings::from_config(&config(v));
        let host = "http://ow";
        assert_eq!(
            s(json!({})).check(&info(&["rust:1.34"]), host).unwrap(),
            "rust:1.34"
        );
        assert_eq!(s(json!({})).check(&info(&[]), host).unwrap(), "blackbox");
        assert_eq!(
            s(json!({"kind": "auto"})).check(&info(&[]), host).unwrap(),
            "blackbox"
        );
        assert_eq!(
            s(json!({"kind": "blackbox"}))
                .check(&info(&["rust:1.34"]), host)
                .unwrap(),
            "blackbox"
        );
        let m = s(json!({"kind": "go:1.20"}))
            .check(&info(&["rust:1.34"]), host)
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("has no kind \"go:1.20\" (its kinds: nodejs:20, rust:1.34)"),
            "{m}"
        );
        let m = s(json!({"kind": "nodejs:20"}))
            .check(&info(&[]), host)
            .unwrap_err()
            .to_string();
        assert!(m.contains("does not run a native `exec`"), "{m}");
    }

    #[test]
    fn action_bodies_carry_code_only_when_given() {
        let s = Settings::from_config(&config(
            json!({"memory": 512, "timeout": 2.5, "env": {"A": "1"}}),
        ));
        let full = s.action_body("blackbox", Some("UEsDBA==".into()));
        assert_eq!(
            full["exec"],
            json!({"kind": "blackbox", "code": "UEsDBA==", "image": "openwhisk/dockerskeleton"})
        );
        assert_eq!(
            full["limits"],
            json!({"memory": 512, "timeout": 2500, "concurrency": 1, "logs": 10})
        );
        assert_eq!(
            full["parameters"],
            json!([{"key": "FAASET_MEMORY_MB", "value": "512", "init": true},
                   {"key": "A", "value": "1", "init": true}])
        );
        let limits_only = s.action_body("rust:1.34", None);
        assert!(limits_only.get("exec").is_none(), "{limits_only}");
        assert_eq!(
            s.action_body("rust:1.34", Some("x".into()))["exec"].get("image"),
            None
        );
    }

    #[test]
    fn entity_names() {
        for ok in ["hello_world", "a", "my action", "x@y.z-1", "_"] {
            assert!(is_entity_name(ok), "{ok}");
        }
        for bad in [
            "",
            "pkg/action",
            "-x",
            " x",
            "x ",
            "a?b",
            "é",
            &"a".repeat(257),
        ] {
            assert!(!is_entity_name(bad), "{bad}");
        }
    }
}
