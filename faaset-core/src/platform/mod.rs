//! The platform seam: which platforms exist and what each one does. A platform is one module
//! here implementing [`Driver`] (its configuration keys, how a function is published, how it
//! is called, what it measures and what it costs) plus one template folder
//! (`platforms/<p>/`: `default_config.json`, `build.sh`, `run.sh`, wrapper sources). Adding a
//! platform adds both and one line to [`DRIVERS`]; nothing outside this module names one.

pub mod aws;
pub mod azure;
pub mod connections;
pub mod google;
pub mod http;
pub mod local;
pub mod openwhisk;
pub mod pricing;
pub mod scripts;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::config::{Config, KeySpec};
use crate::error::{Error, Result};
use crate::function::FunctionPaths;
use crate::progress::Sink;
use crate::workspace::Workspace;
pub use pricing::Pricing;

/// Everything that differs from one platform to the next. Implementations are stateless
/// unit structs listed in [`DRIVERS`]; per-function state lives in the [`Target`] that
/// [`Driver::connect`] returns.
#[async_trait]
pub trait Driver: Sync {
    /// The name users type (`--platform`, `%%cloud_function <name>`) and the folder name of
    /// the template and of the function's platform folder.
    fn name(&self) -> &'static str;

    /// The configuration keys the platform accepts, with their checks.
    fn config_keys(&self) -> &'static [KeySpec];

    /// Whether functions are built from their Rust source; `false` for functions that live
    /// elsewhere, whose publish only records their configuration.
    fn builds(&self) -> bool {
        true
    }

    /// Config keys whose change needs a new build (the binary depends on them), not only a
    /// new publish.
    fn build_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// The platform whose template this one's extends: its folder then holds only what
    /// differs (`aws_function_url`: its `default_config.json`), the other's fills in the rest.
    fn extends(&self) -> Option<&'static str> {
        None
    }

    /// The row fields the platform measures for each call (DESIGN §1.5) and returns in
    /// [`Answer::report`]; they win over a function field of the same name.
    fn reports(&self) -> &'static [&'static str] {
        &[]
    }

    /// Checks what can be checked before a build (credentials, region; `openwhisk` also reads
    /// the deployment's limits), so a mistake is reported before a build that takes minutes.
    async fn preflight(&self, _config: &Config) -> Result<()> {
        Ok(())
    }

    /// Publishes `function`'s configuration and, when `fresh_build`, the code just built
    /// (a configuration change alone never uploads code).
    async fn publish(
        &self,
        function: &Deployment<'_>,
        fresh_build: bool,
        sink: &dyn Sink,
    ) -> Result<()>;

    /// Prepares calls of the deployed `function` (clients, URLs, credentials: set up once,
    /// reused by every call of an experiment).
    async fn connect(&self, function: &Deployment<'_>) -> Result<Box<dyn Target>>;

    /// Prices for the sweep's cost column, for a deployed configuration.
    fn pricing(&self, config: &Config) -> Pricing {
        Pricing::for_config(config)
    }
}

/// A function on a platform with the configuration to publish or call.
pub struct Deployment<'a> {
    pub workspace: &'a Workspace,
    pub paths: &'a FunctionPaths,
    pub platform: &'a Platform,
    /// The merged configuration (template defaults < saved < given).
    pub config: &'a Config,
}

/// A deployed function, ready to be called many times and from many tasks at once.
#[async_trait]
pub trait Target: Send + Sync {
    /// Makes one call. A failed call (the function's error, a refused request) is an
    /// [`Answer`] with `function_error` set and a Lambda-style error object as its body;
    /// `Err` is kept for failures of the tooling itself (engine unreachable, script missing).
    async fn call(&self, payload: bytes::Bytes) -> Result<Answer>;

    /// Whether [`Target::call_cold`] works here, or why not (one clause, e.g. "it cannot
    /// start a fresh execution environment per call"). A platform that can force cold
    /// starts says `Ok`.
    fn cold_calls(&self) -> std::result::Result<(), String> {
        Err("it cannot start a fresh execution environment per call".into())
    }

    /// Makes one call in a new execution environment used only for it (`cold=true`
    /// experiments). Only called when [`Target::cold_calls`] is `Ok`.
    async fn call_cold(&self, payload: bytes::Bytes) -> Result<Answer> {
        let _ = payload;
        Err(Error::Internal(
            "this platform cannot force a cold start".into(),
        ))
    }
}

/// One call's answer as the platform gave it.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The function's JSON response or error object.
    pub body: bytes::Bytes,
    pub function_error: bool,
    /// The platform's measurements of the call ([`Driver::reports`]); empty when it has none.
    pub report: Map<String, Value>,
}

impl Answer {
    /// A call that did not reach the function (or was refused), as a Lambda-style error
    /// object of `error_type`.
    pub fn failed(error_type: &str, message: impl Into<String>) -> Self {
        let body = serde_json::json!({ "errorType": error_type, "errorMessage": message.into() });
        Answer {
            body: body.to_string().into(),
            function_error: true,
            report: Map::new(),
        }
    }
}

/// The row fields a platform's report may fill (DESIGN §1.5: Lambda's `REPORT` record and the
/// local platform's additions). A platform that measures something new names it here.
pub const REPORT_FIELDS: &[&str] = &[
    "duration",
    "billedDuration",
    "memorySize",
    "maxMemoryUsed",
    "initDuration",
    "coldStart",
    "limitsEnforced",
    "environmentId",
    // OpenWhisk's activation record: queueing before init/run, and the activation's id.
    "waitTime",
    "activationId",
];

/// Every platform of this build, in the order `faaset` lists them.
pub const DRIVERS: &[&dyn Driver] = &[
    &aws::Aws,
    &aws::FunctionUrl,
    &azure::Azure,
    &google::Google,
    &http::Http,
    &local::Local,
    &openwhisk::OpenWhisk,
];

/// Names of the platforms this build supports.
pub fn supported() -> impl Iterator<Item = &'static str> {
    DRIVERS.iter().map(|d| d.name())
}

/// A supported platform, resolved with its template folder.
#[derive(Clone)]
pub struct Platform {
    driver: &'static dyn Driver,
    template: PathBuf,
    /// The template folder of the platform this one [`Driver::extends`].
    base: Option<PathBuf>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("name", &self.name())
            .field("template", &self.template)
            .finish()
    }
}

impl Platform {
    /// Resolves a platform name given by the user: it must be supported and have a template.
    pub fn resolve(workspace: &Workspace, name: &str) -> Result<Platform> {
        let driver =
            *DRIVERS
                .iter()
                .find(|d| d.name() == name)
                .ok_or_else(|| Error::UnknownPlatform {
                    name: name.to_string(),
                    available: supported().collect::<Vec<_>>().join(", "),
                })?;
        let template = |name: &str| {
            workspace.platform_template(name).ok_or_else(|| {
                Error::Usage(format!(
                    "platform {name} has no template folder: neither {}/platforms/{name} nor \
                     an installed copy exists; run ./install.sh",
                    workspace.root().display()
                ))
            })
        };
        Ok(Platform {
            driver,
            template: template(name)?,
            base: driver.extends().map(template).transpose()?,
        })
    }

    /// What the platform does.
    pub fn driver(&self) -> &'static dyn Driver {
        self.driver
    }

    pub fn name(&self) -> &'static str {
        self.driver.name()
    }

    /// The template folders, the platform's own first: a file in an earlier one wins.
    pub fn templates(&self) -> impl Iterator<Item = &Path> {
        std::iter::once(self.template.as_path()).chain(self.base.as_deref())
    }

    /// `file` of the template (the platform's own, else the one it extends), if any.
    pub fn template_file(&self, file: &str) -> Option<PathBuf> {
        self.templates()
            .map(|dir| dir.join(file))
            .find(|path| path.exists())
    }

    pub fn config_keys(&self) -> &'static [KeySpec] {
        self.driver.config_keys()
    }

    pub fn builds(&self) -> bool {
        self.driver.builds()
    }

    pub fn build_keys(&self) -> &'static [&'static str] {
        self.driver.build_keys()
    }

    /// Publishes what `FAASET.json` records as deployed on this platform again (the local
    /// engine restarted and lost it, a sweep put back the memory).
    pub async fn republish(&self, workspace: &Workspace, paths: &FunctionPaths) -> Result<()> {
        let state = crate::function::FunctionState::load(paths)?
            .ok_or_else(|| crate::function::unknown_function(workspace, &paths.name))?;
        let deployed = state.deployed_on(self.name())?;
        let function = Deployment {
            workspace,
            paths,
            platform: self,
            config: &deployed.config,
        };
        self.driver
            .publish(&function, false, &crate::progress::Quiet)
            .await
    }

    /// `platforms/<p>/default_config.json`.
    pub fn default_config(&self) -> Result<Config> {
        let Some(path) = self.template_file("default_config.json") else {
            return Ok(Config::new());
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::new()),
            Err(e) => return Err(Error::io("read", path, e)),
        };
        crate::config::parse_object(&text, &path.display().to_string())
    }
}

/// The environment variables credential lookups read (a trait, so tests pass their own
/// instead of changing the process's). Empty values count as unset.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process's environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// "`url` answered `status`: <the first 200 characters of the body>", for an HTTP failure.
pub(crate) fn answered(
    url: &impl std::fmt::Display,
    status: impl std::fmt::Display,
    body: &[u8],
) -> String {
    let excerpt: String = String::from_utf8_lossy(body).chars().take(200).collect();
    format!("{url} answered {status}: {excerpt}")
}

/// The report of a platform whose calls SAAF describes (Cloud Run, Azure Functions):
/// `coldStart` from SAAF's `newcontainer` (1 on the first call of a process), when the
/// function reports it.
pub(crate) fn saaf_report(answer: &Value) -> Map<String, Value> {
    let mut report = Map::new();
    if let Some(new) = answer.get("newcontainer").and_then(Value::as_i64) {
        report.insert("coldStart".into(), (new == 1).into());
    }
    report
}

/// A reqwest client builder with TLS ready. reqwest is built with `rustls-no-provider` (ring
/// instead of aws-lc-rs, for build time), so a process-wide crypto provider must be installed
/// before any client is built — with the feature on, *every* reqwest client of the process
/// panics without one. Build all clients through this function.
pub fn http_client() -> reqwest::ClientBuilder {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // Fails only when a provider is already installed, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_start_comes_from_saafs_newcontainer() {
        use serde_json::json;
        assert_eq!(saaf_report(&json!({"newcontainer": 1}))["coldStart"], true);
        assert_eq!(saaf_report(&json!({"newcontainer": 0}))["coldStart"], false);
        assert!(saaf_report(&json!({"message": "hi"})).is_empty());
    }

    #[test]
    fn every_platform_has_a_template_folder_and_every_folder_a_platform() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../platforms");
        let mut folders: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        folders.sort();
        let mut names: Vec<&str> = supported().collect();
        names.sort();
        assert_eq!(
            folders, names,
            "platforms/ and DRIVERS list different platforms"
        );
    }

    #[test]
    fn names_are_unique_and_valid_folder_names() {
        let names: Vec<&str> = supported().collect();
        for (i, name) in names.iter().enumerate() {
            assert!(!names[..i].contains(name), "{name} is listed twice");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name} is not a plain folder name"
            );
        }
    }

    #[test]
    fn build_keys_and_reported_fields_are_known() {
        for driver in DRIVERS {
            for key in driver.build_keys() {
                assert!(
                    driver.config_keys().iter().any(|k| k.key == *key),
                    "{}: build key {key} is not a config key",
                    driver.name()
                );
            }
            for field in driver.reports() {
                assert!(
                    REPORT_FIELDS.contains(field),
                    "{}: reports {field}, which REPORT_FIELDS does not list",
                    driver.name()
                );
            }
        }
    }
}
