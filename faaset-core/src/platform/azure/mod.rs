//! The `azure` platform: a function as an Azure Functions app on the Flex Consumption plan,
//! run by a custom handler. The function's static binary is faaset-runtime's HTTP server
//! (`FUNCTIONS_CUSTOMHANDLER_PORT`, the caller's request proxied to `/api/<fn>`, `GET /` for
//! readiness); it is zipped with `host.json` and `<fn>/function.json` (`package`), the app and
//! what it needs are created or updated through Azure Resource Manager, and the zip goes up by
//! OneDeploy (`arm`). No Azure CLI, no Core Tools.
//!
//! Publishing after a build: resource group (when missing), storage account (when missing),
//! the package container, the FC1 plan and the function app (PUT: created or updated), the
//! package by OneDeploy, then a check that the host lists the function and that its handler
//! answers (OneDeploy can report success for a package the host cannot load). A configuration
//! change alone PUTs the app again when `functionAppConfig.scaleAndConcurrency` changes, else
//! only its app settings: no build, no upload. Calls POST the payload to
//! `https://<defaultHostName>/api/<fn>` with the host's default function key.
//!
//! Modules: `settings` (config → names and ARM bodies), `credentials` (the service principal,
//! its token), `arm` (ARM and OneDeploy calls), `package` (the zip).

pub mod arm;
pub mod credentials;
pub mod package;
pub mod settings;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;

use super::{Answer, Deployment, Driver, Target};
use crate::auth::Secret;
use crate::config::{Config, KeySpec, Kind};
use crate::error::chain as error_chain;
use crate::error::{Error, Result};
use crate::progress::Sink;
use arm::Api;
use settings::Settings;

/// Azure Functions, Flex Consumption, custom handler.
pub struct Azure;

const fn key(key: &'static str, kind: Kind) -> KeySpec {
    KeySpec { key, kind }
}

/// The platform's keys; Flex Consumption's rules (three sizes, 230 s) are checked by `settings`
/// with messages that list what it takes.
pub const CONFIG_KEYS: &[KeySpec] = &[
    key("subscription", Kind::Text),
    key("resource_group", Kind::Text),
    key("location", Kind::Text),
    key(
        "memory",
        Kind::Integer {
            min: 1,
            max: 1_048_576,
            unit: " MB",
        },
    ),
    key(
        "concurrency",
        Kind::Integer {
            min: 1,
            max: 1000,
            unit: "",
        },
    ),
    key(
        "max_instances",
        Kind::Integer {
            min: settings::MAX_INSTANCES.0 as i64,
            max: settings::MAX_INSTANCES.1 as i64,
            unit: "",
        },
    ),
    key(
        "timeout",
        Kind::Integer {
            min: 1,
            max: 86_400,
            unit: " seconds",
        },
    ),
    key("env", Kind::StringMap),
    key("storage_account", Kind::Text),
];

/// Flex's response carries no timing: the cold start from SAAF's `newcontainer`.
pub const FIELDS: &[&str] = &["coldStart"];

/// How long after a deployment the host may take to list the function and answer.
const LOAD_LIMIT: Duration = Duration::from_secs(180);

#[async_trait]
impl Driver for Azure {
    fn name(&self) -> &'static str {
        "azure"
    }
    /// The same static binary as `google` (faaset-runtime's HTTP mode serves both): its
    /// `build.sh`, wrapper and seed lock; only `default_config.json` differs.
    fn extends(&self) -> Option<&'static str> {
        Some("google")
    }
    fn config_keys(&self) -> &'static [KeySpec] {
        CONFIG_KEYS
    }
    fn reports(&self) -> &'static [&'static str] {
        FIELDS
    }

    /// The settings, the credentials (traded for a token) and the subscription and resource
    /// group (a GET, which also finds the location when the config names none): a mistake is
    /// one line before a build.
    async fn preflight(&self, config: &Config) -> Result<()> {
        let settings = Settings::from_config(config, &super::ProcessEnv)?;
        let api = Api::connect(&super::ProcessEnv).await?;
        location(&api, &settings, None).await.map(|_| ())
    }

    async fn publish(&self, f: &Deployment<'_>, fresh: bool, sink: &dyn Sink) -> Result<()> {
        let name = f.paths.name.as_str();
        let settings = Settings::from_config(f.config, &super::ProcessEnv)?;
        let app = settings.app_name(name)?;
        let api = Api::connect(&super::ProcessEnv).await?;
        sink.status(&format!(
            "{name}: Azure function app {app} (Flex Consumption) in resource group {}, \
             subscription {}",
            settings.resource_group, settings.subscription
        ));
        let location = location(&api, &settings, Some(sink)).await?;
        if fresh {
            self.publish_code(f, &settings, &app, &location, &api, sink)
                .await
        } else {
            self.publish_config(name, &settings, &app, &location, &api, sink)
                .await
        }
    }

    async fn connect(&self, f: &Deployment<'_>) -> Result<Box<dyn Target>> {
        let name = f.paths.name.as_str();
        let settings = Settings::from_config(f.config, &super::ProcessEnv)?;
        let app = settings.app_name(name)?;
        let api = Api::connect(&super::ProcessEnv).await?;
        let site_path = settings.site_path(&app);
        let site = api
            .get_site(&site_path)
            .await?
            .ok_or_else(|| Error::NotDeployed {
                function: name.to_string(),
                platform: "azure".into(),
            })?;
        let (host, _) = arm::hosts(&site).ok_or_else(|| {
            Error::Usage(format!("Azure function app {app} has no host name yet"))
        })?;
        let key = api.function_key(&site_path).await?;
        Ok(Box::new(Invoker {
            http: api.http.clone(),
            url: function_url(api.site_scheme(), &host, name)?,
            key,
            limit: Duration::from_secs(settings.timeout + 60),
        }))
    }

    fn pricing(&self, config: &Config) -> super::Pricing {
        pricing(config)
    }
}

/// The location to create things in: the config's, else the resource group's. The resource
/// group is created when missing (`sink` given: publishing), which needs a location.
async fn location(api: &Api, settings: &Settings, sink: Option<&dyn Sink>) -> Result<String> {
    let path = settings.resource_group_path();
    let group = api.get_resource_group(&path).await?;
    let existing = group
        .as_ref()
        .and_then(|g| g["location"].as_str())
        .map(str::to_string);
    let location = match (&settings.location, existing) {
        (Some(l), _) => l.clone(),
        (None, Some(l)) => l,
        (None, None) => {
            return Err(Error::Config(format!(
                "config key \"location\" is required for platform azure: resource group {} does \
                 not exist yet in subscription {}, so it has no location to use: set \
                 \"location\" (like {{\"location\": \"eastus\"}})",
                settings.resource_group, settings.subscription
            )))
        }
    };
    if let (None, Some(sink)) = (&group, sink) {
        api.put_resource_group(&path, &Settings::resource_group(&location))
            .await?;
        sink.status(&format!(
            "created resource group {} in {location}",
            settings.resource_group
        ));
    }
    Ok(location)
}

impl Azure {
    /// After a build: storage, plan and app, the package, and the check that it runs.
    async fn publish_code(
        &self,
        f: &Deployment<'_>,
        settings: &Settings,
        app: &str,
        location: &str,
        api: &Api,
        sink: &dyn Sink,
    ) -> Result<()> {
        let name = f.paths.name.as_str();
        let build = f.paths.build_dir(f.platform.name());
        let bootstrap = build.join(package::EXECUTABLE);
        let binary = std::fs::read(&bootstrap).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Usage(format!(
                    "{name} has no built binary ({} is missing) to run on Azure: run `faaset \
                     deploy {name} --force`",
                    bootstrap.display()
                ))
            } else {
                Error::io("read", &bootstrap, e)
            }
        })?;
        let zip = package::zip(name, &binary)?;
        // Kept beside the binary: what was uploaded, for the user (and the tests) to inspect.
        let zip_path = build.join("package.zip");
        crate::function::write_atomic(&zip_path, &zip)?;

        let account = settings.storage_path();
        if api.get_storage_account(&account).await?.is_none() {
            api.create_storage_account(&account, &Settings::storage_account(location))
                .await?;
            sink.status(&format!(
                "{name}: created storage account {} in {location}",
                settings.storage_account
            ));
        }
        let key = api.storage_key(&account).await?;
        let storage = Secret::new(settings::connection_string(
            &settings.storage_account,
            key.expose(),
        ));
        api.ensure_container(&settings.container_path(app)).await?;
        api.put_plan(&settings.plan_path(app), &Settings::plan(location))
            .await?;
        let site_path = settings.site_path(app);
        let app_settings = settings.app_settings(storage.expose(), location);
        sink.status(&format!(
            "{name}: PUT function app {app} ({} MB, concurrency {}, at most {} instances, \
             timeout {} s)",
            settings.memory, settings.concurrency, settings.max_instances, settings.timeout
        ));
        api.put_site(&site_path, &settings.site(app, location, &app_settings))
            .await?;
        let site = api.get_site(&site_path).await?.ok_or_else(|| {
            Error::Usage(format!(
                "Azure reported function app {app} created but has no such app"
            ))
        })?;
        let (host, scm) = arm::hosts(&site)
            .ok_or_else(|| Error::Usage(format!("Azure function app {app} has no host names")))?;
        let scheme = api.site_scheme();
        sink.status(&format!(
            "{name}: OneDeploy of {} ({} bytes) to {scm}",
            zip_path.display(),
            zip.len()
        ));
        api.one_deploy(&format!("{scheme}://{scm}"), zip).await?;
        self.check_loaded(
            name,
            app,
            &site_path,
            &function_url(scheme, &host, name)?,
            api,
        )
        .await?;
        sink.status(&format!(
            "{name}: ready at {}",
            function_url("https", &host, name)?
        ));
        Ok(())
    }

    /// A reported deployment can hide a package the host cannot load: the function must be
    /// listed, and its handler must answer a `GET` (faaset-runtime answers it without calling
    /// the function).
    async fn check_loaded(
        &self,
        name: &str,
        app: &str,
        site_path: &str,
        url: &reqwest::Url,
        api: &Api,
    ) -> Result<()> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(250);
        let mut last;
        loop {
            let listed = api.functions(site_path).await?;
            if listed.iter().any(|f| f == name) {
                let key = api.function_key(site_path).await?;
                match api
                    .http
                    .get(url.clone())
                    .header("x-functions-key", key.expose())
                    .timeout(Duration::from_secs(60))
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => return Ok(()),
                    Ok(r) => {
                        let status = r.status();
                        let body = r.bytes().await.unwrap_or_default();
                        last = crate::platform::answered(url, status, &body);
                    }
                    Err(e) => last = format!("calling {url} failed: {}", error_chain(&e)),
                }
            } else {
                last = format!(
                    "the host lists {} instead of {name}",
                    if listed.is_empty() {
                        "no function".to_string()
                    } else {
                        listed.join(", ")
                    }
                );
            }
            if started.elapsed() > LOAD_LIMIT {
                return Err(Error::Usage(format!(
                    "Azure deployed the package of {app}, but its host did not load it within {} \
                     s ({last}): see the app's log stream in the Azure portal",
                    LOAD_LIMIT.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// A configuration change: `scaleAndConcurrency` (a PUT of the app) or app settings only.
    async fn publish_config(
        &self,
        name: &str,
        settings: &Settings,
        app: &str,
        location: &str,
        api: &Api,
        sink: &dyn Sink,
    ) -> Result<()> {
        let site_path = settings.site_path(app);
        let site = api.get_site(&site_path).await?.ok_or_else(|| {
            Error::Usage(format!(
                "Azure has no function app {app} for {name} (deleted?): run `faaset deploy \
                 {name} --force` to create it again"
            ))
        })?;
        let current = api.app_settings(&site_path).await?;
        let storage = current
            .get(settings::STORAGE_SETTINGS[0])
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "Azure function app {app} has no {} app setting: run `faaset deploy {name} \
                     --force` to set it up again",
                    settings::STORAGE_SETTINGS[0]
                ))
            })?;
        let location = site["location"]
            .as_str()
            .map(|l| l.replace(' ', "").to_ascii_lowercase())
            .unwrap_or_else(|| location.to_string());
        let desired = settings.app_settings(storage, &location);
        let scale = &site["properties"]["functionAppConfig"]["scaleAndConcurrency"];
        let wanted = settings.scale_and_concurrency();
        let scale_changed = ["instanceMemoryMB", "maximumInstanceCount"]
            .iter()
            .any(|k| scale[k] != wanted[k])
            || scale["triggers"]["http"]["perInstanceConcurrency"]
                != wanted["triggers"]["http"]["perInstanceConcurrency"];
        let same_settings = current.len() == desired.len()
            && desired
                .iter()
                .all(|(k, v)| current.get(k).and_then(Value::as_str) == Some(v.as_str()));
        if scale_changed {
            sink.status(&format!(
                "{name}: PUT function app {app}: scale and concurrency ({} MB, concurrency {}, at \
                 most {} instances){}, no new package",
                settings.memory,
                settings.concurrency,
                settings.max_instances,
                if same_settings {
                    ""
                } else {
                    " and app settings"
                }
            ));
            api.put_site(&site_path, &settings.site(app, &location, &desired))
                .await?;
        } else if !same_settings {
            sink.status(&format!(
                "{name}: app settings of {app} (timeout {} s, env), no new package",
                settings.timeout
            ));
            api.put_app_settings(&site_path, &desired).await?;
        } else {
            sink.status(&format!("{name}: {app} is configured so already"));
        }
        Ok(())
    }
}

/// `{scheme}://{host}/api/{fn}`.
fn function_url(scheme: &str, host: &str, function: &str) -> Result<reqwest::Url> {
    reqwest::Url::parse(&format!("{scheme}://{host}/api/{function}"))
        .map_err(|e| Error::Usage(format!("Azure host name {host:?} makes no URL: {e}")))
}

// Flex Consumption on-demand list prices, from https://azure.microsoft.com/pricing/details/functions/
// ("Flex Consumption", on demand), read 2026-12-04 in stored copies of a 2025-05 summary of that
// page (modal.com's "Azure Functions pricing: Consumption vs. Flex Consumption") and of the
// billing docs (learn.microsoft.com, functions-consumption-costs, Flex tab): $0.000026 per GB-s
// of instance memory while it executes, $0.40 per million executions. Free grants left out.
/// USD per GB-second of instance memory.
pub const PRICE_PER_GB_SECOND: f64 = 0.000_026;
/// USD per execution.
pub const PRICE_PER_EXECUTION: f64 = 0.000_000_4;

/// Flex Consumption's on-demand price: GB-seconds of the instance memory (`memory`) while
/// executing, plus executions.
pub fn pricing(_config: &Config) -> super::Pricing {
    super::Pricing {
        per_gb_second: PRICE_PER_GB_SECOND,
        per_request: PRICE_PER_EXECUTION,
        source: "Azure Functions Flex Consumption on-demand list price: GB-seconds of instance \
                 memory + executions"
            .into(),
    }
}

/// Calls of one function: POST the payload to its URL with the function key.
struct Invoker {
    http: reqwest::Client,
    url: reqwest::Url,
    key: Secret,
    limit: Duration,
}

impl Invoker {
    async fn call(&self, payload: bytes::Bytes) -> Answer {
        let request = self
            .http
            .post(self.url.clone())
            .timeout(self.limit)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-functions-key", self.key.expose())
            .body(payload);
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return Answer::failed(
                    "Azure.CallFailed",
                    format!("calling Azure at {} failed: {}", self.url, error_chain(&e)),
                )
            }
        };
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        match (status.as_u16(), json) {
            (200, Some(value)) => Answer {
                report: super::saaf_report(&value),
                body,
                function_error: false,
            },
            // faaset-runtime's error shape: the function failed.
            (_, Some(value)) if value.get("errorType").is_some() => Answer {
                report: super::saaf_report(&value),
                body,
                function_error: true,
            },
            (401 | 403, _) => Answer::failed(
                "Azure.Unauthorized",
                format!(
                    "Azure refused the call to {} with {status}: the function key was not \
                     accepted (keys rotated? call again to fetch it anew)",
                    self.url
                ),
            ),
            _ => Answer::failed(
                "Azure.CallFailed",
                super::answered(&self.url, status, &body),
            ),
        }
    }
}

#[async_trait]
impl Target for Invoker {
    async fn call(&self, payload: bytes::Bytes) -> Result<Answer> {
        Ok(Invoker::call(self, payload).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pricing_is_flex_on_demand() {
        let p = pricing(&Config::new());
        // 2048 MB for 1 s: 2 GB-s.
        let cost = p.cost(2048, 1000.0);
        assert!(
            (cost - (2.0 * 0.000026 + 0.0000004)).abs() < 1e-15,
            "{cost}"
        );
    }

    #[test]
    fn cold_start_from_newcontainer() {
        assert_eq!(
            function_url("https", "f.azurewebsites.net", "hello_az")
                .unwrap()
                .as_str(),
            "https://f.azurewebsites.net/api/hello_az"
        );
    }
}
