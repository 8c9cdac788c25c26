//! The `google` platform: a function as a Google Cloud Run service running a container image.
//! Cloud Run functions have no Rust runtime, so the function's static binary is packed into a
//! one-layer OCI image (`image`), pushed to Artifact Registry with `oci-client`, and the
//! service is upserted through the Cloud Run Admin API v2 (`api`). No Docker, no gcloud.
//!
//! Building is `platforms/google/build.sh`: a fully static x86_64 `bootstrap`, which
//! faaset-runtime runs as an HTTP server on `0.0.0.0:$PORT` (docs/function-runtime.md).
//! Publishing after a build pushes the image (nothing when the registry has its digest) and
//! PATCHes the service with the image pinned by digest; a configuration change PATCHes the
//! settings with the image the service already runs (a new revision, no push). Calls are
//! POSTs of the payload to the service's URL with an ID token (none when `public`).
//!
//! Modules: `settings` (config → service body, CPU from memory), `credentials` (key files,
//! JWTs, tokens), `image` (the OCI image and its push), `api` (the REST calls).

pub mod api;
pub mod credentials;
pub mod image;
pub mod settings;

use async_trait::async_trait;
use serde_json::Value;

use super::{Answer, Deployment, Driver, Target};
use crate::config::{Config, KeySpec, Kind};
use crate::error::chain as error_chain;
use crate::error::{Error, Result};
use crate::progress::Sink;
use api::Api;
use credentials::{Secret, Want};
use settings::Settings;

/// Google Cloud Run, through the Admin API v2 and Artifact Registry.
pub struct Google;

const fn key(key: &'static str, kind: Kind) -> KeySpec {
    KeySpec { key, kind }
}

/// Cloud Run's regions (https://cloud.google.com/run/docs/locations, read 2026-12). A region
/// Google adds later must be added here.
pub const REGIONS: &[&str] = &[
    "africa-south1",
    "asia-east1",
    "asia-east2",
    "asia-northeast1",
    "asia-northeast2",
    "asia-northeast3",
    "asia-south1",
    "asia-south2",
    "asia-southeast1",
    "asia-southeast2",
    "australia-southeast1",
    "australia-southeast2",
    "europe-central2",
    "europe-north1",
    "europe-north2",
    "europe-southwest1",
    "europe-west1",
    "europe-west2",
    "europe-west3",
    "europe-west4",
    "europe-west6",
    "europe-west8",
    "europe-west9",
    "europe-west10",
    "europe-west12",
    "me-central1",
    "me-central2",
    "me-west1",
    "northamerica-northeast1",
    "northamerica-northeast2",
    "northamerica-south1",
    "southamerica-east1",
    "southamerica-west1",
    "us-central1",
    "us-east1",
    "us-east4",
    "us-east5",
    "us-south1",
    "us-west1",
    "us-west2",
    "us-west3",
    "us-west4",
];

/// The platform's keys; combinations (memory with CPU) are checked by `settings`.
pub const CONFIG_KEYS: &[KeySpec] = &[
    key("project", Kind::Text),
    key("region", Kind::OneOf(REGIONS)),
    key("repository", Kind::Text),
    key(
        "memory",
        Kind::Integer {
            min: 128,
            max: 32_768,
            unit: " MB",
        },
    ),
    key(
        "cpu",
        Kind::Number {
            min: 0.08,
            max: 8.0,
            unit: " vCPU",
        },
    ),
    key(
        "timeout",
        Kind::Integer {
            min: 1,
            max: 3600,
            unit: " seconds",
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
            min: 1,
            max: 1000,
            unit: "",
        },
    ),
    key("env", Kind::StringMap),
    key("public", Kind::Boolean),
    key("service_account", Kind::Text),
];

/// The row fields a call reports: Cloud Run's response carries no timing, so only the cold
/// start, from SAAF's `newcontainer` in the function's answer.
pub const FIELDS: &[&str] = &["coldStart"];

#[async_trait]
impl Driver for Google {
    fn name(&self) -> &'static str {
        "google"
    }
    fn config_keys(&self) -> &'static [KeySpec] {
        CONFIG_KEYS
    }
    fn reports(&self) -> &'static [&'static str] {
        FIELDS
    }

    /// The settings' combination, the function-independent credentials (traded for an access
    /// token), and the project and region (a `list services` call): a mistake is one line
    /// before a build.
    async fn preflight(&self, config: &Config) -> Result<()> {
        let settings = Settings::from_config(config)?;
        let api = Api::connect(&settings, &super::ProcessEnv).await?;
        api.list_services(&settings).await
    }

    async fn publish(&self, f: &Deployment<'_>, fresh: bool, sink: &dyn Sink) -> Result<()> {
        let name = f.paths.name.as_str();
        let settings = Settings::from_config(f.config)?;
        let id = settings::service_id(name)?;
        let api = Api::connect(&settings, &super::ProcessEnv).await?;
        sink.status(&format!(
            "{name}: Cloud Run service {id} in {} ({}), project {}",
            settings.region,
            if id == name {
                "the function's name".to_string()
            } else {
                format!("{name} with `_` as `-`")
            },
            settings.project
        ));
        let current = if fresh {
            None
        } else {
            api.get_service(&settings, &id).await?
        };
        let running = current
            .as_ref()
            .and_then(|s| s["template"]["containers"][0]["image"].as_str())
            .map(str::to_string);
        let image = match running {
            // A configuration change: the image the service runs, nothing pushed.
            Some(image) => image,
            None => self.push(f, &settings, &id, &api, sink).await?,
        };
        sink.status(&format!(
            "{name}: PATCH service {id} ({} MB, {} vCPU{}, timeout {} s, concurrency {}{})",
            settings.memory,
            settings.cpu,
            if settings.cpu_derived {
                " from memory"
            } else {
                ""
            },
            settings.timeout,
            settings.concurrency,
            if settings.public { ", public" } else { "" }
        ));
        api.upsert_service(&settings.service_name(&id), &settings.service(&image))
            .await?;
        let service = api.get_service(&settings, &id).await?.ok_or_else(|| {
            Error::Usage(format!(
                "Cloud Run reported service {id} updated but has no such service"
            ))
        })?;
        let ready = &service["terminalCondition"];
        if ready["state"] != "CONDITION_SUCCEEDED" {
            return Err(Error::Usage(format!(
                "Cloud Run service {id} is not ready ({}): {}",
                ready["state"].as_str().unwrap_or("no state"),
                ready["message"].as_str().unwrap_or("no message")
            )));
        }
        sink.status(&format!(
            "{name}: ready at {} (revision {})",
            service["uri"].as_str().unwrap_or("?"),
            service["latestReadyRevision"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .unwrap_or("?")
        ));
        Ok(())
    }

    async fn connect(&self, f: &Deployment<'_>) -> Result<Box<dyn Target>> {
        let settings = Settings::from_config(f.config)?;
        let id = settings::service_id(f.paths.name.as_str())?;
        let api = Api::connect(&settings, &super::ProcessEnv).await?;
        let service = api
            .get_service(&settings, &id)
            .await?
            .ok_or_else(|| Error::NotDeployed {
                function: f.paths.name.to_string(),
                platform: "google".into(),
            })?;
        let uri = service["uri"]
            .as_str()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .ok_or_else(|| {
                Error::Usage(format!("Cloud Run service {id} has no URL yet (no uri)"))
            })?;
        // A private service takes an ID token whose audience is its URL.
        let token = if settings.public {
            None
        } else {
            let audience = uri.as_str().trim_end_matches('/');
            Some(
                api.credentials
                    .token(&api.http, Want::Id { audience })
                    .await?,
            )
        };
        Ok(Box::new(Invoker {
            http: api.http.clone(),
            url: uri,
            token,
            limit: std::time::Duration::from_secs(settings.timeout + 60),
        }))
    }

    fn pricing(&self, config: &Config) -> super::Pricing {
        pricing(config)
    }
}

impl Google {
    /// Packs `.build/bootstrap` into the image and pushes it (creating the repository when
    /// missing); the image reference pinned by digest.
    async fn push(
        &self,
        f: &Deployment<'_>,
        settings: &Settings,
        id: &str,
        api: &Api,
        sink: &dyn Sink,
    ) -> Result<String> {
        let name = f.paths.name.as_str();
        let bootstrap = f.paths.build_dir(f.platform.name()).join("bootstrap");
        let binary = std::fs::read(&bootstrap).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Usage(format!(
                    "{name} has no built binary ({} is missing) to run on Cloud Run: run \
                     `faaset deploy {name} --force`",
                    bootstrap.display()
                ))
            } else {
                Error::io("read", &bootstrap, e)
            }
        })?;
        if api.ensure_repository(settings).await? {
            sink.status(&format!(
                "{name}: created the Artifact Registry repository {} in {}",
                settings.repository, settings.region
            ));
        }
        let image = image::Image::of(&binary)?;
        let digest = image.digest();
        let to = api.endpoints.destination(settings, id);
        let auth = oci_client::secrets::RegistryAuth::Basic(
            "oauth2accesstoken".into(),
            api.access.expose().to_string(),
        );
        match image::push(&image, &to, &auth).await? {
            image::Pushed::AlreadyThere => sink.status(&format!(
                "{name}: image {digest} is in the registry already: nothing pushed"
            )),
            image::Pushed::Uploaded { bytes } => sink.status(&format!(
                "{name}: pushed image {digest} to {}/{} ({bytes} bytes of blobs)",
                to.registry, to.repository
            )),
        }
        Ok(to.by_digest(&digest))
    }
}

// Cloud Run request-based billing, Tier 1 regions, from
// https://cloud.google.com/run/pricing ("CPU only allocated during request processing",
// Tier 1), read 2026-12-03 in stored copies of that page and two 2025 summaries of it:
// $0.000024 per vCPU-second, $0.0000025 per GiB-second, $0.40 per million requests. Billed
// time is rounded up to 100 ms. Free tier left out: the sweep compares settings, not bills.
/// USD per vCPU-second.
pub const PRICE_PER_VCPU_SECOND: f64 = 0.000_024;
/// USD per GiB-second of memory.
pub const PRICE_PER_GIB_SECOND: f64 = 0.000_002_5;
/// USD per request.
pub const PRICE_PER_REQUEST: f64 = 0.000_000_4;

/// The sweep's price for a configuration: memory and its CPU folded into one price per
/// GB-second of the configured memory (the sweep's cost model), so a memory setting with
/// more CPU costs what Cloud Run charges for both.
pub fn pricing(config: &Config) -> super::Pricing {
    let memory = config
        .get("memory")
        .and_then(Value::as_f64)
        .unwrap_or(512.0);
    let cpu = config
        .get("cpu")
        .and_then(Value::as_f64)
        .unwrap_or_else(|| settings::cpu_for(memory as u64));
    let gib = memory / 1024.0;
    // `memory` is only read here: the sweep asks again for each memory setting.
    super::Pricing {
        per_gb_second: PRICE_PER_GIB_SECOND + cpu * PRICE_PER_VCPU_SECOND / gib,
        per_request: PRICE_PER_REQUEST,
        source: "Google Cloud Run request-based list price, Tier 1: vCPU-seconds (the configured \
                 cpu, else the one memory gives) + GiB-seconds + requests"
            .into(),
    }
}

/// Calls of one service: POST the payload to its URL.
struct Invoker {
    http: reqwest::Client,
    url: reqwest::Url,
    /// The ID token (audience: the URL); `None` for a public service.
    token: Option<Secret>,
    limit: std::time::Duration,
}

impl Invoker {
    async fn call(&self, payload: bytes::Bytes) -> Answer {
        let mut request = self
            .http
            .post(self.url.clone())
            .timeout(self.limit)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            // Cloud Run's request logs are keyed by the trace; the function gets it as
            // `context.request_id`.
            .header("X-Cloud-Trace-Context", trace_context())
            .body(payload);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return failed(format!(
                    "calling Cloud Run at {} failed: {}",
                    self.url,
                    error_chain(&e)
                ))
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
            (401 | 403, _) => failed(format!(
                "Cloud Run refused the call to {} with {status}: the credentials need \
                 roles/run.invoker on the service, or set \"public\": true",
                self.url
            )),
            _ => failed(super::answered(&self.url, status, &body)),
        }
    }
}

#[async_trait]
impl Target for Invoker {
    async fn call(&self, payload: bytes::Bytes) -> Result<Answer> {
        Ok(Invoker::call(self, payload).await)
    }
}

/// A fresh `TRACE_ID/SPAN_ID;o=1` (32 hex digits, a decimal span).
fn trace_context() -> String {
    let trace = crate::auth::new_token()
        .map(|t| t[..32].to_string())
        .unwrap_or_else(|_| format!("{:032x}", crate::function::now_ms()));
    format!("{trace}/1;o=1")
}

fn failed(message: String) -> Answer {
    Answer::failed("CloudRunError", message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prices_fold_cpu_into_the_memory_price() {
        let config = |v: Value| v.as_object().unwrap().clone();
        let p = pricing(&config(json!({"memory": 1024})));
        // 1 GiB with 0.583 vCPU for one second.
        let expected = PRICE_PER_GIB_SECOND + 0.583 * PRICE_PER_VCPU_SECOND + PRICE_PER_REQUEST;
        assert!((p.cost(1024, 1000.0) - expected).abs() < 1e-12, "{p:?}");
        let p = pricing(&config(json!({"memory": 2048, "cpu": 2})));
        let expected = 2.0 * PRICE_PER_GIB_SECOND + 2.0 * PRICE_PER_VCPU_SECOND + PRICE_PER_REQUEST;
        assert!((p.cost(2048, 1000.0) - expected).abs() < 1e-12, "{p:?}");
        assert!(p.source.contains("Cloud Run"));
    }

    #[test]
    fn trace_contexts_have_cloud_runs_shape() {
        let t = trace_context();
        let (trace, rest) = t.split_once('/').unwrap();
        assert!(trace.len() == 32 && trace.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(rest, "1;o=1");
    }
}
