//! The platform seam: which platforms exist, their configuration keys, and how a function is
//! published to and invoked on each. No platform name is matched outside this module.
//!
//! A platform is a template folder (`platforms/<p>/`: `default_config.json`, `build.sh`,
//! `run.sh`, wrapper sources) plus the code here that publishes and invokes natively.

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
}

impl Kind {
    fn from_name(name: &str) -> Option<Kind> {
        match name {
            "local" => Some(Kind::Local),
            "http" => Some(Kind::Http),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Local => "local",
            Kind::Http => "http",
        }
    }
}

/// Names of the platforms this build supports.
pub const SUPPORTED: &[&str] = &["http", "local"];

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

    /// Whether the function is built from its Rust source and runs on the local engine
    /// (else it is reached elsewhere, and publishing only records its configuration).
    pub fn builds(&self) -> bool {
        match self.kind {
            Kind::Local => true,
            Kind::Http => false,
        }
    }
}
