//! The one error type of the core library.
//!
//! Every variant carries the facts a user needs (name, key, path, log file) and its message
//! says what was wrong and what to do, in one lowercase line. `is_user_error` separates
//! mistakes the user can fix (exit code 1) from internal failures (exit code 2).

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid function name {name:?}: {reason} (names match ^[a-z][a-z0-9_]{{0,62}}$, e.g. hello_world)")]
    InvalidName { name: String, reason: &'static str },

    #[error("unknown platform {name:?} (available: {available})")]
    UnknownPlatform { name: String, available: String },

    #[error("unknown function {name:?} in {workspace} (known: {known}); create it with `faaset new {name}`")]
    UnknownFunction {
        name: String,
        workspace: PathBuf,
        known: String,
    },

    #[error("{function} is not deployed on {platform}: run `faaset deploy {function} --platform {platform}` first")]
    NotDeployed { function: String, platform: String },

    #[error("unknown experiment {experiment:?} of {function} ({hint}experiments: {known}); run one with `faaset experiment {function} --experiment-name {experiment}`")]
    UnknownExperiment {
        function: String,
        experiment: String,
        /// "did you mean …? " or empty.
        hint: String,
        known: String,
    },

    #[error("unknown column {column:?} in {results} ({hint}{kind}: {known})")]
    UnknownColumn {
        column: String,
        /// `function/experiment`.
        results: String,
        hint: String,
        /// "columns" or "numeric columns".
        kind: &'static str,
        known: String,
    },

    #[error("{0}")]
    Config(String),

    #[error("{0}")]
    Source(String),

    #[error("function {function} does not compile: {message} (full log: {log})")]
    Compile {
        function: String,
        message: String,
        log: PathBuf,
    },

    #[error("{step} failed for {function} ({status}): see {log}")]
    Script {
        function: String,
        step: &'static str,
        status: String,
        log: PathBuf,
    },

    #[error("function {function} failed: {message}")]
    FunctionFailed {
        function: String,
        error_type: String,
        message: String,
        /// The full error response, for callers that keep it (experiment rows).
        response: serde_json::Value,
    },

    #[error("{0}")]
    Usage(String),

    /// The user stopped it (Ctrl-C, an interrupted cell); what was done is kept.
    #[error("{0}")]
    Interrupted(String),

    /// AWS Lambda (or the `endpoint_url`) refused or could not be reached.
    #[error("AWS Lambda: {0}")]
    Aws(String),

    #[error("the local platform engine: {0}")]
    Engine(String),

    /// Nothing answered at the engine's address: the call was not made (an invoker may
    /// find the workspace's new engine and make it there).
    #[error("the local platform engine: {0}")]
    EngineUnreachable(String),

    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// True when the user can fix the cause (exit code 1); false for internal failures (2).
    pub fn is_user_error(&self) -> bool {
        !matches!(
            self,
            Error::Internal(_) | Error::Io { .. } | Error::Engine(_) | Error::EngineUnreachable(_)
        )
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// An error with its sources on one line, each message once (reqwest's top-level message
/// hides the cause: "error sending request" … "connection refused").
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}
