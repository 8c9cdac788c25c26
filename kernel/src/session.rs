//! The Rust session: evcxr's `CommandContext`, run on blocking threads, with the child
//! process's stdout/stderr forwarded line by line to whoever is listening (the cell).
//!
//! evcxr runs user code in a child process (this same binary, caught by
//! `evcxr::runtime_hook`). Killing that child is how a running cell is interrupted; evcxr then
//! starts a new one, keeping defined items (functions, stubs) but not variables.

use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::{anyhow, Result};
use crossbeam_channel::{Receiver, Select, Sender};
use evcxr::{CommandContext, EvalOutputs};

use crate::content;
use crate::display::Bundle;

/// Stdout lines starting with this carry a panic report from the session's panic hook
/// (see `faaset_bridge::report_panics`), not user output.
pub use faaset_bridge::PANIC_MARKER;

/// Where forwarded output goes: `("stdout" | "stderr", line)`; displays and panic reports
/// separately.
pub trait OutputSink: Send + Sync + 'static {
    fn line(&self, stream: &'static str, line: String);
    fn display(&self, bundle: Bundle);
    fn panic(&self, report: String);
}

pub struct Session {
    context: Arc<Mutex<CommandContext>>,
    child: Arc<Mutex<std::process::Child>>,
    flush: Sender<Sender<()>>,
}

impl Session {
    pub fn start(sink: Arc<dyn OutputSink>) -> Result<Session> {
        let (context, outputs) = CommandContext::new().map_err(|e| anyhow!("{e}"))?;
        let child = context.process_handle();
        let (flush, flush_requests) = crossbeam_channel::unbounded::<Sender<()>>();
        let (stdout, stderr) = (outputs.stdout, outputs.stderr);
        thread::Builder::new()
            .name("session-output".into())
            .spawn(move || forward(stdout, stderr, flush_requests, sink))?;
        Ok(Session {
            context: Arc::new(Mutex::new(context)),
            child,
            flush,
        })
    }

    /// Evaluates a cell's Rust code (`:dep` and other evcxr commands included). Every line
    /// the code printed has been handed to the sink when this returns.
    pub async fn execute(&self, code: String) -> Result<EvalOutputs, evcxr::Error> {
        let context = Arc::clone(&self.context);
        let result = tokio::task::spawn_blocking(move || {
            let mut context = context.lock().unwrap_or_else(|e| e.into_inner());
            context.execute(&code)
        })
        .await
        .unwrap_or_else(|e| Err(evcxr::Error::Message(format!("the session failed: {e}"))));
        self.flush().await;
        result
    }

    /// Waits until the forwarder has passed on every line evcxr has received so far.
    async fn flush(&self) {
        let (done, wait) = crossbeam_channel::bounded(1);
        if self.flush.send(done).is_ok() {
            let _ = tokio::task::spawn_blocking(move || wait.recv()).await;
        }
    }

    pub async fn completions(&self, code: String, position: usize) -> Result<evcxr::Completions> {
        let context = Arc::clone(&self.context);
        tokio::task::spawn_blocking(move || {
            let mut context = context.lock().unwrap_or_else(|e| e.into_inner());
            context.completions(&code, position)
        })
        .await?
    }

    pub async fn hover(&self, code: String, position: usize) -> Result<(String, String)> {
        let context = Arc::clone(&self.context);
        tokio::task::spawn_blocking(move || {
            let mut context = context.lock().unwrap_or_else(|e| e.into_inner());
            context.hover_at(&code, position)
        })
        .await?
    }

    /// Ends the code running in the session (kills the child process; evcxr restarts it).
    /// Needs no lock on the context, which the running cell holds.
    pub fn interrupt(&self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(None) = child.try_wait() {
            let _ = child.kill();
        }
    }
}

/// One thread passes lines on in the order they arrive; a flush request is answered after
/// every line already queued has been passed on.
fn forward(
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    flush: Receiver<Sender<()>>,
    sink: Arc<dyn OutputSink>,
) {
    let pass = |stream: &'static str, line: String| {
        if stream == "stdout" {
            if let Some(report) = line.strip_prefix(PANIC_MARKER) {
                return sink.panic(report.replace("\\n", "\n"));
            }
            if let Some(bundle) = content::parse_display(&line) {
                return sink.display(bundle);
            }
        }
        sink.line(stream, line)
    };
    let mut select = Select::new();
    let out_index = select.recv(&stdout);
    let err_index = select.recv(&stderr);
    let flush_index = select.recv(&flush);
    loop {
        let operation = select.select();
        match operation.index() {
            i if i == out_index => match operation.recv(&stdout) {
                Ok(line) => pass("stdout", line),
                Err(_) => return,
            },
            i if i == err_index => match operation.recv(&stderr) {
                Ok(line) => pass("stderr", line),
                Err(_) => return,
            },
            i if i == flush_index => {
                let Ok(done) = operation.recv(&flush) else {
                    return;
                };
                while let Ok(line) = stdout.try_recv() {
                    pass("stdout", line);
                }
                while let Ok(line) = stderr.try_recv() {
                    pass("stderr", line);
                }
                let _ = done.send(());
            }
            _ => unreachable!("three channels are selected"),
        }
    }
}
