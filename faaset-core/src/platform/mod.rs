//! The platform seam: which platforms exist, their configuration keys, and how a function is
//! published to and invoked on each. No platform name is matched outside this module.
//!
//! A platform is a template folder (`platforms/<p>/`: `default_config.json`, `build.sh`,
//! `run.sh`, wrapper sources) plus the code here that publishes and invokes natively.

pub mod aws;
pub mod connections;
pub mod http;
pub mod local;
pub mod scripts;

use std::path::{Path, PathBuf};

use crate::config::{Config, KeySpec};
use crate::error::{Error, Result};
use crate::workspace::Workspace;

/// A supported platform, resolved with its template folder.
#[derive(Debug, Clone)]
pub struct Platform {
    kind: Kind,
    template: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Local,
    Http,
    Aws,
    AwsFunctionUrl,
}

impl Kind {
    fn from_name(name: &str) -> Option<Kind> {
        match name {
            "local" => Some(Kind::Local),
            "http" => Some(Kind::Http),
            "aws" => Some(Kind::Aws),
            "aws_function_url" => Some(Kind::AwsFunctionUrl),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Local => "local",
            Kind::Http => "http",
            Kind::Aws => "aws",
            Kind::AwsFunctionUrl => "aws_function_url",
        }
    }
}

/// Names of the platforms this build supports.
pub const SUPPORTED: &[&str] = &["aws", "aws_function_url", "http", "local"];

impl Platform {
    /// Resolves a platform name given by the user: it must be supported and have a template.
    pub fn resolve(workspace: &Workspace, name: &str) -> Result<Platform> {
        let unknown = || Error::UnknownPlatform {
            name: name.to_string(),
            available: SUPPORTED.join(", "),
        };
        let kind = Kind::from_name(name).ok_or_else(unknown)?;
        let template = workspace.platform_template(name).ok_or_else(|| {
            Error::Usage(format!(
                "platform {name} has no template folder: neither {}/platforms/{name} nor an \
                 installed copy exists; run ./install.sh",
                workspace.root().display()
            ))
        })?;
        Ok(Platform { kind, template })
    }

    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    pub fn template(&self) -> &Path {
        &self.template
    }

    pub fn config_keys(&self) -> &'static [KeySpec] {
        match self.kind {
            Kind::Local => local::CONFIG_KEYS,
            Kind::Http => http::CONFIG_KEYS,
            Kind::Aws => aws::CONFIG_KEYS,
            Kind::AwsFunctionUrl => aws::FUNCTION_URL_CONFIG_KEYS,
        }
    }

    /// `platforms/<p>/default_config.json`.
    pub fn default_config(&self) -> Result<Config> {
        let path = self.template.join("default_config.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::new()),
            Err(e) => return Err(Error::io("read", path, e)),
        };
        crate::config::parse_object(&text, &path.display().to_string())
    }

    /// Whether the function is built from its Rust source (else it is reached elsewhere,
    /// and publishing only records its configuration).
    pub fn builds(&self) -> bool {
        !matches!(self.kind, Kind::Http)
    }

    /// Where the function is published and called.
    pub fn backend(&self) -> Backend {
        match self.kind {
            Kind::Local => Backend::Engine,
            Kind::Http => Backend::Http,
            Kind::Aws => Backend::Lambda {
                function_url: false,
            },
            Kind::AwsFunctionUrl => Backend::Lambda { function_url: true },
        }
    }

    /// Config keys whose change needs a new build, not only a new publish.
    pub fn build_keys(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Aws | Kind::AwsFunctionUrl => aws::BUILD_KEYS,
            Kind::Local | Kind::Http => &[],
        }
    }
}

/// Where a platform's functions live, for the code that publishes and calls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The workspace's local engine.
    Engine,
    /// A URL the user configured; publishing only records the configuration.
    Http,
    /// AWS Lambda (or a Lambda-compatible `endpoint_url`), called through the Invoke API or
    /// the function URL.
    Lambda { function_url: bool },
}

/// A reqwest client builder with TLS ready. reqwest is built with `rustls-no-provider` (ring
/// instead of aws-lc-rs, for build time), so a process-wide crypto provider must be installed
/// before any client is built — with the feature on, *every* reqwest client of the process
/// panics without one. Build all clients through this function.
/// "`url` answered `status`: <the first 200 characters of the body>", for an HTTP failure.
pub(crate) fn answered(
    url: &impl std::fmt::Display,
    status: impl std::fmt::Display,
    body: &[u8],
) -> String {
    let excerpt: String = String::from_utf8_lossy(body).chars().take(200).collect();
    format!("{url} answered {status}: {excerpt}")
}

pub fn http_client() -> reqwest::ClientBuilder {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // Fails only when a provider is already installed, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}
