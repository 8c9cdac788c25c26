//! The sink through which the core reports what it is doing. The core never prints: the CLI
//! writes these lines to stderr, the kernel streams them into the notebook cell.

/// Receives build/publish output and status lines as they happen.
pub trait Sink: Send + Sync {
    /// A status line of the core ("building hello_world for local").
    fn status(&self, line: &str);
    /// A line of output of a build or publish step (compiler output, script output).
    fn output(&self, line: &str);
}

/// A sink that drops everything (library callers that only want results).
pub struct Quiet;

impl Sink for Quiet {
    fn status(&self, _line: &str) {}
    fn output(&self, _line: &str) {}
}
