//! The `http` platform (FaaS Runner's HTTP platform; FaaSET's function-URL and API-gateway
//! platforms): a function already deployed somewhere and reached by POSTing JSON to a URL —
//! OpenFaaS, Knative, API gateways, Lambda function URLs with public auth. Nothing is built;
//! publishing only records the configuration.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{Answer, Deployment, Driver, Target};
use crate::config::{Config, KeySpec, Kind};
use crate::error::{Error, Result};
use crate::progress::Sink;

/// A function reached at a URL the user configured.
pub struct Http;

#[async_trait]
impl Driver for Http {
    fn name(&self) -> &'static str {
        "http"
    }

    fn config_keys(&self) -> &'static [KeySpec] {
        CONFIG_KEYS
    }

    fn builds(&self) -> bool {
        false
    }

    /// Reached at its own URL: the configuration recorded in FAASET.json is the publish.
    async fn publish(&self, _f: &Deployment<'_>, _fresh: bool, _sink: &dyn Sink) -> Result<()> {
        Ok(())
    }

    async fn connect(&self, f: &Deployment<'_>) -> Result<Box<dyn Target>> {
        Ok(Box::new(HttpTarget::from_config(f.config)?))
    }
}

#[async_trait]
impl Target for HttpTarget {
    async fn call(&self, payload: bytes::Bytes) -> Result<Answer> {
        let answer = self.post(payload).await;
        Ok(match answer.failure {
            Some(failure) => Answer::failed("HttpError", failure),
            None => Answer {
                body: answer.body,
                ..Answer::default()
            },
        })
    }
}

pub const CONFIG_KEYS: &[KeySpec] = &[
    KeySpec {
        key: "url",
        kind: Kind::Text,
    },
    KeySpec {
        key: "headers",
        kind: Kind::StringMap,
    },
    KeySpec {
        key: "timeout",
        kind: Kind::Number {
            min: 0.001,
            max: 3600.0,
            unit: " seconds",
        },
    },
];

/// A configured HTTP endpoint.
pub struct HttpTarget {
    url: reqwest::Url,
    /// The URL as messages and result rows show it: without a password.
    shown: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    timeout: Duration,
    client: reqwest::Client,
}

/// What the endpoint answered.
pub struct HttpResponse {
    pub body: bytes::Bytes,
    /// A non-2xx status, as text.
    pub failure: Option<String>,
}

/// `url` with its password (if any) replaced, for messages, logs and rows.
fn shown_url(url: &reqwest::Url) -> reqwest::Url {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown
}

impl HttpTarget {
    /// Builds the target from a deployed configuration, checking the URL and headers.
    pub fn from_config(config: &Config) -> Result<Self> {
        let url_text = config.get("url").and_then(Value::as_str).unwrap_or("");
        let url = reqwest::Url::parse(url_text)
            .ok()
            .filter(|u| u.scheme() == "http" || u.scheme() == "https")
            .ok_or_else(|| {
                Error::Config(format!(
                    "config key \"url\" of platform http must be an http(s) URL, not {url_text:?}"
                ))
            })?;
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(map) = config.get("headers").and_then(Value::as_object) {
            for (name, value) in map {
                let header = reqwest::header::HeaderName::from_bytes(name.as_bytes());
                let value = reqwest::header::HeaderValue::from_str(value.as_str().unwrap_or(""));
                match (header, value) {
                    (Ok(h), Ok(v)) => {
                        headers.insert(h, v);
                    }
                    _ => {
                        return Err(Error::Config(format!(
                            "header {name:?} of platform http is not a valid HTTP header"
                        )))
                    }
                }
            }
        }
        let timeout = config
            .get("timeout")
            .and_then(Value::as_f64)
            .unwrap_or(60.0);
        let client = super::http_client()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(usize::MAX)
            .build()
            .map_err(|e| Error::Internal(format!("HTTP client: {e}")))?;
        let shown = shown_url(&url);
        Ok(HttpTarget {
            url,
            shown,
            headers,
            timeout: Duration::from_secs_f64(timeout),
            client,
        })
    }

    /// POSTs the payload; a transport failure or a non-2xx status is a failed call.
    pub async fn post(&self, payload: bytes::Bytes) -> HttpResponse {
        let sent = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(self.timeout)
            .body(payload)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                return HttpResponse {
                    body: bytes::Bytes::new(),
                    failure: Some(format!(
                        "request to {} failed: {}",
                        self.shown,
                        e.without_url()
                    )),
                }
            }
        };
        let status = response.status();
        match read_bounded(response, MAX_RESPONSE).await {
            Ok(None) => HttpResponse {
                body: bytes::Bytes::new(),
                failure: Some(format!(
                    "the answer of {} is larger than {} MiB, the most FaaSET-rs keeps of one \
                     answer (Lambda's response limit): return less, or a reference to it",
                    self.shown,
                    MAX_RESPONSE >> 20
                )),
            },
            Ok(Some(body)) if status.is_success() => HttpResponse {
                body,
                failure: None,
            },
            Ok(Some(body)) => HttpResponse {
                failure: Some(super::answered(&self.shown, status, &body)),
                body,
            },
            Err(e) => HttpResponse {
                body: bytes::Bytes::new(),
                failure: Some(format!(
                    "reading the answer of {} failed: {}",
                    self.shown,
                    e.without_url()
                )),
            },
        }
    }
}

/// The most of one answer that is read (and so kept in a row): Lambda's response limit, so
/// an endpoint that streams without end cannot exhaust the runner's memory.
pub const MAX_RESPONSE: usize = crate::engine::wire::MAX_PAYLOAD;

/// The body, or `None` as soon as it is known to exceed `limit` bytes (from its
/// `Content-Length` or while reading it).
async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> reqwest::Result<Option<bytes::Bytes>> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}
