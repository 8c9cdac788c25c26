//! The AWS Lambda platforms: `aws` (the Invoke API, with Lambda's `REPORT` record in every
//! row) and `aws_function_url` (the same function reached through its function URL, signed
//! with SigV4 unless the user sets `auth: "NONE"`).
//!
//! Building is `platforms/aws/build.sh` (cargo-lambda + Zig: a `bootstrap` for
//! `provided.al2023`, zipped). Publishing is `publish`: GetFunction, then CreateFunction, or
//! UpdateFunctionConfiguration + wait + (when the code was rebuilt) UpdateFunctionCode + wait.
//!
//! Modules: `credentials` (the standard chain), `api` (signed Lambda calls), `report`
//! (the `REPORT` line into row fields).

pub mod api;
pub mod credentials;
pub mod report;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::{Answer, Deployment, Driver, Target};
use crate::config::{Config, KeySpec, Kind};
use crate::error::{Error, Result};
use crate::progress::Sink;
use api::{Lambda, Signer};

/// AWS Lambda through its Invoke API (`aws`).
pub struct Aws;

/// AWS Lambda through the function's URL (`aws_function_url`).
pub struct FunctionUrl;

#[async_trait]
impl Driver for Aws {
    fn name(&self) -> &'static str {
        "aws"
    }
    fn config_keys(&self) -> &'static [KeySpec] {
        CONFIG_KEYS
    }
    fn build_keys(&self) -> &'static [&'static str] {
        BUILD_KEYS
    }
    fn reports(&self) -> &'static [&'static str] {
        report::FIELDS
    }
    async fn preflight(&self, config: &Config) -> Result<()> {
        preflight(config)
    }
    async fn publish(&self, f: &Deployment<'_>, fresh: bool, sink: &dyn Sink) -> Result<()> {
        publish_to(f, fresh, false, sink).await
    }
    async fn connect(&self, f: &Deployment<'_>) -> Result<Box<dyn Target>> {
        Ok(Box::new(Invoker::new(f.paths.name.as_str(), f.config)?))
    }
}

#[async_trait]
impl Driver for FunctionUrl {
    fn name(&self) -> &'static str {
        "aws_function_url"
    }
    /// The same build as `aws`: only the default configuration differs.
    fn extends(&self) -> Option<&'static str> {
        Some("aws")
    }
    fn config_keys(&self) -> &'static [KeySpec] {
        FUNCTION_URL_CONFIG_KEYS
    }
    fn build_keys(&self) -> &'static [&'static str] {
        BUILD_KEYS
    }
    async fn preflight(&self, config: &Config) -> Result<()> {
        preflight(config)
    }
    async fn publish(&self, f: &Deployment<'_>, fresh: bool, sink: &dyn Sink) -> Result<()> {
        publish_to(f, fresh, true, sink).await
    }
    async fn connect(&self, f: &Deployment<'_>) -> Result<Box<dyn Target>> {
        Ok(Box::new(
            UrlInvoker::new(f.paths.name.as_str(), f.config).await?,
        ))
    }
}

/// build.sh leaves the zip beside the binary; it is uploaded only after a fresh build.
async fn publish_to(
    f: &Deployment<'_>,
    fresh: bool,
    function_url: bool,
    sink: &dyn Sink,
) -> Result<()> {
    let zip = f.paths.build_dir(f.platform.name()).join("bootstrap.zip");
    let code = fresh.then_some(zip.as_path());
    publish(
        f.paths.name.as_str(),
        f.config,
        code,
        &zip,
        function_url,
        sink,
    )
    .await
}

/// Regions with Lambda. A region outside this list is refused before any request, because
/// the only other sign of a typo is a DNS failure.
pub const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

const fn key(key: &'static str, kind: Kind) -> KeySpec {
    KeySpec { key, kind }
}

/// The keys of the `aws` platform, followed by `$extra` (one list for both AWS platforms).
macro_rules! aws_keys {
    ($($extra:expr),* $(,)?) => {
        &[
            key("role", Kind::Text),
            key("region", Kind::OneOf(REGIONS)),
            key("profile", Kind::Text),
            key("memory", Kind::Integer { min: 128, max: 10240, unit: " MB" }),
            key("timeout", Kind::Integer { min: 1, max: 900, unit: " seconds" }),
            key("storage", Kind::Integer { min: 512, max: 10240, unit: " MB" }),
            crate::config::ENV_KEY,
            crate::config::ARCHITECTURE_KEY,
            key("subnets", Kind::StringList),
            key("security_groups", Kind::StringList),
            key("endpoint_url", Kind::Text),
            $($extra),*
        ]
    };
}

/// Keys of the `aws` platform.
pub const CONFIG_KEYS: &[KeySpec] = aws_keys!();

/// Keys of the `aws_function_url` platform: those of `aws` plus `auth`.
pub const FUNCTION_URL_CONFIG_KEYS: &[KeySpec] =
    aws_keys!(key("auth", Kind::OneOf(&["AWS_IAM", "NONE"])));

/// Config keys whose change needs a new build (the binary is per architecture).
pub const BUILD_KEYS: &[&str] = &["architecture"];

/// The id of the statement that makes a function URL public (`auth: "NONE"`).
const PUBLIC_URL_STATEMENT: &str = "FaasetFunctionUrlPublic";

/// How long an update may take before we give up waiting.
const UPDATE_LIMIT: Duration = Duration::from_secs(600);

/// The Lambda client for a merged configuration: credentials from the chain, the region,
/// the endpoint (`endpoint_url` or the region's).
pub fn client(config: &Config) -> Result<Lambda> {
    let text = |key: &str| config.get(key).and_then(Value::as_str);
    let env = credentials::ProcessEnv;
    let resolved = credentials::resolve(text("profile"), &env)?;
    let region = credentials::region(text("region"), &resolved, &env)?;
    if !REGIONS.contains(&region.as_str()) {
        return Err(Error::Config(format!(
            "unknown AWS region {region:?} (from the environment or your AWS profile); set \
             the config key \"region\" to one of {}",
            REGIONS.join(", ")
        )));
    }
    let endpoint = match text("endpoint_url") {
        Some(url) => {
            let parsed = reqwest::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "config key \"endpoint_url\" must be an http(s) URL, not {url:?}"
                    ))
                })?;
            // A base URL joins relative paths only when it ends in a slash.
            if parsed.path().ends_with('/') {
                parsed
            } else {
                reqwest::Url::parse(&format!("{parsed}/")).expect("a URL plus a slash")
            }
        }
        None => {
            let domain = if region.starts_with("cn-") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            reqwest::Url::parse(&format!("https://lambda.{region}.{domain}/"))
                .expect("a valid endpoint")
        }
    };
    let http = super::http_client()
        .build()
        .map_err(|e| Error::Internal(format!("HTTP client: {e}")))?;
    Ok(Lambda::new(http, endpoint, Signer::new(&resolved, &region)))
}

/// Checks what can be checked without a request: the role, credentials and region.
pub fn preflight(config: &Config) -> Result<()> {
    configuration(config)?;
    client(config).map(drop)
}

/// The function's settings as Lambda's UpdateFunctionConfiguration body.
fn configuration(config: &Config) -> Result<Map<String, Value>> {
    let role = config.get("role").and_then(Value::as_str).unwrap_or("");
    if !role.starts_with("arn:") {
        return Err(Error::Config(format!(
            "config key \"role\" must be the ARN of an IAM role Lambda can assume (like \
             arn:aws:iam::123456789012:role/lambda-basic), not {role:?}"
        )));
    }
    let number =
        |key: &str, default: i64| config.get(key).and_then(Value::as_i64).unwrap_or(default);
    let strings = |key: &str| config.get(key).cloned().unwrap_or_else(|| json!([]));
    let env = config.get("env").cloned().unwrap_or_else(|| json!({}));
    let mut body = Map::new();
    body.insert("Role".into(), role.into());
    body.insert("Runtime".into(), "provided.al2023".into());
    body.insert("Handler".into(), "bootstrap".into());
    body.insert("MemorySize".into(), number("memory", 512).into());
    body.insert("Timeout".into(), number("timeout", 3).into());
    body.insert(
        "EphemeralStorage".into(),
        json!({ "Size": number("storage", 512) }),
    );
    body.insert("Environment".into(), json!({ "Variables": env }));
    body.insert(
        "VpcConfig".into(),
        json!({ "SubnetIds": strings("subnets"), "SecurityGroupIds": strings("security_groups") }),
    );
    Ok(body)
}

fn architecture(config: &Config) -> &str {
    config
        .get("architecture")
        .and_then(Value::as_str)
        .unwrap_or("x86_64")
}

/// Publishes a function: creates it, or updates its configuration and (with `code`) its
/// code, waiting after each step. `code` is the zip of a fresh build; a function that does
/// not exist yet is created from `zip_fallback` when no fresh build is given.
pub async fn publish(
    name: &str,
    config: &Config,
    code: Option<&Path>,
    zip_fallback: &Path,
    function_url: bool,
    sink: &dyn Sink,
) -> Result<()> {
    let settings = configuration(config)?;
    let lambda = client(config)?;
    let arch = architecture(config);
    let existing = lambda.get_function(name).await?;
    let read_zip = |path: &Path| -> Result<String> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    };
    match existing {
        None => {
            let zip = code.unwrap_or(zip_fallback);
            if !zip.is_file() {
                return Err(Error::Usage(format!(
                    "{name} does not exist on AWS Lambda ({}) and has no built code: run \
                     `faaset deploy {name} --force`",
                    lambda.signer().region()
                )));
            }
            sink.status(&format!(
                "{name}: CreateFunction in {}",
                lambda.signer().region()
            ));
            let mut body = settings;
            body.insert("FunctionName".into(), name.into());
            body.insert("Architectures".into(), json!([arch]));
            body.insert("Code".into(), json!({ "ZipFile": read_zip(zip)? }));
            let body = Value::Object(body);
            // A role created moments ago is not assumable by Lambda for a few seconds (IAM is
            // eventually consistent): retry that one refusal for up to ~30 s.
            let mut attempts = 0;
            loop {
                match lambda.create_function(&body).await {
                    Err(Error::Aws(message))
                        if message.contains("cannot be assumed") && attempts < 10 =>
                    {
                        attempts += 1;
                        tokio::time::sleep(Duration::from_secs(3)).await;
                    }
                    result => break result?,
                }
            }
            lambda.wait_until_ready(name, UPDATE_LIMIT).await?;
        }
        Some(_) => {
            // An `architecture` change never gets here without code: it is a build key
            // (`deploy` rebuilds, `reconfigure` refuses).
            sink.status(&format!(
                "{name}: UpdateFunctionConfiguration in {}",
                lambda.signer().region()
            ));
            // A previous update may still run (another deploy, the console).
            lambda.wait_until_ready(name, UPDATE_LIMIT).await?;
            lambda
                .update_configuration(name, &Value::Object(settings))
                .await?;
            lambda.wait_until_ready(name, UPDATE_LIMIT).await?;
            if let Some(zip) = code {
                sink.status(&format!("{name}: UpdateFunctionCode"));
                let body = json!({ "ZipFile": read_zip(zip)?, "Architectures": [arch] });
                lambda.update_code(name, &body).await?;
                lambda.wait_until_ready(name, UPDATE_LIMIT).await?;
            }
        }
    }
    if function_url {
        publish_function_url(&lambda, name, config, sink).await?;
    }
    Ok(())
}

/// Makes the function URL match `auth` (default `AWS_IAM`); a public URL (`NONE`) also needs
/// a resource policy statement, which is removed again when the URL goes back to `AWS_IAM`.
async fn publish_function_url(
    lambda: &Lambda,
    name: &str,
    config: &Config,
    sink: &dyn Sink,
) -> Result<()> {
    let auth = config
        .get("auth")
        .and_then(Value::as_str)
        .unwrap_or("AWS_IAM");
    match lambda.get_function_url(name).await? {
        None => lambda.put_function_url(name, auth, true).await?,
        Some((_, current)) if current != auth => lambda.put_function_url(name, auth, false).await?,
        Some(_) => {}
    }
    if auth == "NONE" {
        let statement = json!({
            "StatementId": PUBLIC_URL_STATEMENT,
            "Action": "lambda:InvokeFunctionUrl",
            "Principal": "*",
            "FunctionUrlAuthType": "NONE",
        });
        lambda.add_permission(name, &statement).await?;
    } else {
        lambda.remove_permission(name, PUBLIC_URL_STATEMENT).await?;
    }
    if let Some((url, _)) = lambda.get_function_url(name).await? {
        sink.status(&format!("{name}: function URL {url} (auth {auth})"));
    }
    Ok(())
}

/// Calls a function through the Invoke API.
pub struct Invoker {
    lambda: Lambda,
    name: String,
    timeout: Duration,
}

impl Invoker {
    pub fn new(name: &str, config: &Config) -> Result<Self> {
        let timeout = config.get("timeout").and_then(Value::as_f64).unwrap_or(3.0);
        Ok(Invoker {
            lambda: client(config)?,
            name: name.to_string(),
            // The function's own limit plus room for the network and a cold start.
            timeout: Duration::from_secs_f64(timeout + 30.0),
        })
    }

    pub async fn call(&self, payload: &[u8]) -> Answer {
        let answer = self.lambda.invoke(&self.name, payload, self.timeout).await;
        if let Some(failure) = answer.failure {
            return failed(failure);
        }
        Answer {
            report: answer
                .log_tail
                .as_deref()
                .map(report::fields_from_log_tail)
                .unwrap_or_default(),
            body: answer.body,
            function_error: answer.function_error,
        }
    }
}

#[async_trait]
impl Target for Invoker {
    async fn call(&self, payload: bytes::Bytes) -> Result<Answer> {
        Ok(Invoker::call(self, &payload).await)
    }
}

#[async_trait]
impl Target for UrlInvoker {
    async fn call(&self, payload: bytes::Bytes) -> Result<Answer> {
        Ok(UrlInvoker::call(self, &payload).await)
    }
}

/// Calls a function through its function URL, signed unless the URL is public.
pub struct UrlInvoker {
    http: reqwest::Client,
    url: reqwest::Url,
    /// `None` for a public URL (`auth: "NONE"`).
    signer: Option<Signer>,
    timeout: Duration,
}

impl UrlInvoker {
    /// Looks the URL up (GetFunctionUrlConfig) once.
    pub async fn new(name: &str, config: &Config) -> Result<Self> {
        let lambda = client(config)?;
        let (url, auth) = lambda.get_function_url(name).await?.ok_or_else(|| {
            Error::Usage(format!(
                "{name} has no function URL: run `faaset deploy {name} --platform \
                 aws_function_url --force`"
            ))
        })?;
        let url = reqwest::Url::parse(&url)
            .map_err(|e| Error::Aws(format!("the function URL {url:?} is not a URL: {e}")))?;
        let timeout = config.get("timeout").and_then(Value::as_f64).unwrap_or(3.0);
        Ok(UrlInvoker {
            http: super::http_client()
                .build()
                .map_err(|e| Error::Internal(format!("HTTP client: {e}")))?,
            url,
            signer: (auth != "NONE").then(|| lambda.signer().clone()),
            timeout: Duration::from_secs_f64(timeout + 30.0),
        })
    }

    pub async fn call(&self, payload: &[u8]) -> Answer {
        let headers = [("content-type", "application/json")];
        let mut request = self.http.post(self.url.clone()).timeout(self.timeout);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(signer) = &self.signer {
            match signer.headers(&reqwest::Method::POST, &self.url, &headers, payload) {
                Ok(signed) => {
                    for (name, value) in signed {
                        request = request.header(name, value);
                    }
                }
                Err(e) => return failed(e.to_string()),
            }
        }
        let response = match request.body(payload.to_vec()).send().await {
            Ok(response) => response,
            Err(e) => return failed(format!("request to {} failed: {e}", self.url)),
        };
        let status = response.status();
        match response.bytes().await {
            Ok(body) if status.is_success() => Answer {
                body,
                function_error: false,
                report: Map::new(),
            },
            Ok(body) => failed(crate::platform::answered(&self.url, status, &body)),
            Err(e) => failed(format!("reading the answer of {} failed: {e}", self.url)),
        }
    }
}

/// A call that did not reach the function, as a Lambda-style error object.
fn failed(message: String) -> Answer {
    Answer::failed("AwsError", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(v: Value) -> Config {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn configuration_is_lambdas_shape() {
        let c = config(json!({
            "role": "arn:aws:iam::123456789012:role/r", "memory": 1024, "timeout": 10,
            "storage": 1024, "env": {"A": "1"}, "subnets": ["subnet-1"],
            "security_groups": ["sg-1"]
        }));
        let body = Value::Object(configuration(&c).unwrap());
        assert_eq!(body["MemorySize"], json!(1024));
        assert_eq!(body["Runtime"], json!("provided.al2023"));
        assert_eq!(body["EphemeralStorage"], json!({"Size": 1024}));
        assert_eq!(body["Environment"], json!({"Variables": {"A": "1"}}));
        assert_eq!(body["VpcConfig"]["SubnetIds"], json!(["subnet-1"]));
        let bad = config(json!({"role": "lambda-role"}));
        let m = configuration(&bad).unwrap_err().to_string();
        assert!(m.contains("must be the ARN of an IAM role"), "{m}");
    }

    #[test]
    fn function_url_keys_are_aws_keys_plus_auth() {
        let aws: Vec<&str> = CONFIG_KEYS.iter().map(|k| k.key).collect();
        let url: Vec<&str> = FUNCTION_URL_CONFIG_KEYS.iter().map(|k| k.key).collect();
        assert_eq!(url[..aws.len()], aws[..]);
        assert_eq!(url[aws.len()..], ["auth"]);
    }
}
