//! The kernel: Jupyter requests in, cells run (magics through the core, Rust through the
//! evcxr session), outputs published. Shell requests are handled one at a time, as Jupyter
//! expects; control requests (interrupt, shutdown) on their own task, so they work while a
//! cell runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Result;
use faaset::Workspace;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use unicode_segmentation::UnicodeSegmentation;

use crate::complete::{self, Completeness};
use crate::display::{Bundle, CellError, CellOutput};
use crate::history::History;
use crate::jupyter::sockets::{recv, send};
use crate::jupyter::{Iopub, Message, Sockets};
use crate::magic::run::Followup;
use crate::magic::{self, Cell};
use crate::session::{OutputSink, Session};
use crate::stubs::{self, Crates};

/// What the kernel's tasks share: where output goes now, and how to interrupt.
pub struct Shared {
    current: Mutex<Option<CellOutput>>,
    panics: Mutex<Vec<String>>,
    cancel: Mutex<CancellationToken>,
    rust_running: AtomicBool,
    session: OnceLock<Arc<Session>>,
    /// Held while a cell runs, so a shutdown can wait for an interrupted cell to finish
    /// what it must undo.
    cell: tokio::sync::Mutex<()>,
}

/// How long a shutdown waits for an interrupted cell (a sweep restoring the memory on a
/// cloud platform waits for the update to apply).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(120);

impl Shared {
    fn new() -> Shared {
        Shared {
            current: Mutex::new(None),
            panics: Mutex::new(Vec::new()),
            cancel: Mutex::new(CancellationToken::new()),
            rust_running: AtomicBool::new(false),
            session: OnceLock::new(),
            cell: tokio::sync::Mutex::new(()),
        }
    }

    /// The output of the cell running now (bridge calls stream their deploy into it).
    pub fn current_output(&self) -> Option<CellOutput> {
        lock(&self.current).clone()
    }

    /// Ends what the running cell is doing: a magic is cancelled; Rust code is stopped by
    /// restarting the session's process (only while Rust runs, so an idle session keeps
    /// its variables).
    pub fn interrupt(&self) {
        lock(&self.cancel).cancel();
        if self.rust_running.load(Ordering::SeqCst) {
            if let Some(session) = self.session.get() {
                session.interrupt();
            }
        }
    }

    fn fresh_cancel(&self) -> CancellationToken {
        let token = CancellationToken::new();
        *lock(&self.cancel) = token.clone();
        token
    }
}

impl OutputSink for Shared {
    fn line(&self, stream: &'static str, line: String) {
        match self.current_output() {
            Some(out) => out.stream(stream, &line),
            // Outside a cell (start-up): the kernel's log, which Jupyter shows in its console.
            None => eprintln!("faaset-kernel session {stream}: {line}"),
        }
    }

    fn display(&self, bundle: Bundle) {
        if let Some(out) = self.current_output() {
            out.display(bundle);
        }
    }

    fn panic(&self, report: String) {
        lock(&self.panics).push(report);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Kernel {
    workspace: Workspace,
    shared: Arc<Shared>,
    iopub: Iopub,
    /// `None` until the start-up task has finished.
    session: Option<Result<Arc<Session>, String>>,
    /// Starts the session and evaluates the prelude (bridge, stubs of every saved function)
    /// in the background, so `kernel_info` is answered at once.
    init: Option<JoinHandle<Startup>>,
    /// Shown by the first cell: platforms, functions, and any start-up problem.
    banner: Option<String>,
    count: u32,
    history: History,
}

/// What the start-up task ends with: the session, and a problem to show if any.
struct Startup {
    session: Result<Arc<Session>, String>,
    problem: Option<String>,
}

impl Kernel {
    /// Starts the session and, in the background, defines a stub for every function of the
    /// workspace in one evaluation (auto-reload).
    pub fn start(workspace: Workspace, iopub: Iopub) -> (Kernel, Arc<Shared>) {
        let shared = Arc::new(Shared::new());
        let functions = workspace.functions();
        let banner = format!(
            "FaaSET-rs {} — workspace {}\nplatforms: {}\nfunctions: {}",
            env!("CARGO_PKG_VERSION"),
            workspace.root().display(),
            workspace.platforms().join(", "),
            if functions.is_empty() {
                "none yet (a %%cloud_function cell defines one)".to_string()
            } else {
                functions
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
                    + " (call them as Rust functions, e.g. f(json!({})))"
            }
        );
        let init = tokio::spawn(start_session(shared.clone(), functions));
        let kernel = Kernel {
            history: History::open(workspace.state_dir()),
            workspace,
            shared: shared.clone(),
            iopub,
            session: None,
            init: Some(init),
            banner: Some(banner),
            count: 0,
        };
        (kernel, shared)
    }

    /// The session, once the start-up task has finished (waits for it the first time).
    async fn session(&mut self) -> Result<Arc<Session>, String> {
        if let Some(init) = self.init.take() {
            let startup = init.await.unwrap_or_else(|e| Startup {
                session: Err(format!("the session's start-up failed: {e}")),
                problem: None,
            });
            if let Some(problem) = startup.problem {
                self.banner
                    .get_or_insert_with(String::new)
                    .push_str(&format!("\n{problem}"));
            }
            self.session = Some(startup.session);
        }
        self.session
            .clone()
            .unwrap_or_else(|| Err("the session has not started".into()))
    }

    /// Serves the shell socket until the process ends.
    pub async fn serve_shell(mut self, mut sockets: ShellSockets) -> Result<()> {
        loop {
            let request = match recv(&mut sockets.shell, &sockets.signer).await {
                Ok(request) => request,
                Err(error) => {
                    eprintln!("faaset-kernel: dropped a shell message: {error:#}");
                    continue;
                }
            };
            self.iopub.status(&request, "busy");
            let reply = self.handle(&request).await;
            if let Some(content) = reply {
                // A client that went away must not end the kernel (and the user's session).
                let reply = request.reply(content);
                if let Err(error) = send(&mut sockets.shell, &sockets.signer, &reply).await {
                    eprintln!("faaset-kernel: could not send a shell reply: {error:#}");
                }
            }
            self.iopub.status(&request, "idle");
            if request.msg_type() == "shutdown_request" {
                exit_soon();
            }
        }
    }

    async fn handle(&mut self, request: &Message) -> Option<Value> {
        let content = &request.content;
        let code = content["code"].as_str().unwrap_or("");
        Some(match request.msg_type() {
            "kernel_info_request" => kernel_info(),
            "execute_request" => self.execute(request).await,
            "is_complete_request" => match complete::check(code) {
                Completeness::Complete => json!({"status": "complete"}),
                Completeness::Incomplete { indent } => {
                    json!({"status": "incomplete", "indent": indent})
                }
                Completeness::Invalid => json!({"status": "invalid"}),
            },
            "complete_request" => self.complete(code, cursor(content)).await,
            "inspect_request" => self.inspect(code, cursor(content)).await,
            "comm_info_request" => json!({"status": "ok", "comms": {}}),
            "history_request" => self.history.reply(content),
            "shutdown_request" => shutdown(request, &self.shared).await,
            "comm_open" | "comm_msg" | "comm_close" => return None,
            other => {
                eprintln!("faaset-kernel: ignoring shell message {other}");
                return None;
            }
        })
    }

    async fn execute(&mut self, request: &Message) -> Value {
        let code = request.content["code"].as_str().unwrap_or("").to_string();
        let silent = request.content["silent"].as_bool().unwrap_or(false);
        if !silent {
            self.count += 1;
        }
        let count = self.count;
        // Jupyter: `store_history` defaults to true, and a silent request is never stored.
        if !silent && request.content["store_history"].as_bool().unwrap_or(true) {
            self.history.record(count, &code);
        }
        self.iopub.send(request.child(
            "execute_input",
            json!({"code": code, "execution_count": count}),
        ));
        let out = CellOutput::new(self.iopub.clone(), request.clone());
        *lock(&self.shared.current) = Some(out.clone());
        let shared = self.shared.clone();
        let running = shared.cell.lock().await;
        let result = self.run_cell(&code, &out, count).await;
        drop(running);
        *lock(&self.shared.current) = None;
        match result {
            Ok(()) => json!({
                "status": "ok",
                "execution_count": count,
                "user_expressions": {},
                "payload": [],
            }),
            Err(error) => {
                out.error(&error);
                json!({
                    "status": "error",
                    "execution_count": count,
                    "ename": error.ename,
                    "evalue": error.evalue,
                    "traceback": error.traceback,
                })
            }
        }
    }

    async fn run_cell(
        &mut self,
        code: &str,
        out: &CellOutput,
        count: u32,
    ) -> Result<(), CellError> {
        let cancel = self.shared.fresh_cancel();
        self.finish_start(out).await;
        let cell = magic::parse(code).map_err(usage)?;
        match cell {
            Cell::CloudFunction(cf) => {
                let followup = cancellable(
                    &cancel,
                    magic::run::cloud_function(cf, &self.workspace, out),
                )
                .await?;
                self.follow(followup, out, count).await
            }
            Cell::Code { magics, rust } => {
                for m in magics {
                    let followups = if m.stops_itself() {
                        magic::run::run(m, &self.workspace, out, &cancel)
                            .await
                            .map_err(magic_error)?
                    } else {
                        cancellable(&cancel, magic::run::run(m, &self.workspace, out, &cancel))
                            .await?
                    };
                    for followup in followups {
                        self.follow(followup, out, count).await?;
                    }
                }
                if rust.trim().is_empty() {
                    return Ok(());
                }
                self.run_rust(rust, out, count).await
            }
        }
    }

    /// Waits for the start-up, then shows the banner (first cell only).
    async fn finish_start(&mut self, out: &CellOutput) {
        if let Err(e) = self.session().await {
            self.banner
                .get_or_insert_with(String::new)
                .push_str(&format!("\nthe Rust session could not start: {e}"));
        }
        if let Some(banner) = self.banner.take() {
            out.stream("stdout", &banner);
        }
    }

    async fn follow(
        &mut self,
        followup: Followup,
        out: &CellOutput,
        count: u32,
    ) -> Result<(), CellError> {
        let code = match followup {
            Followup::DefineStub(name) => {
                if stubs::is_keyword(name.as_str()) {
                    out.stream(
                        "stderr",
                        &format!("{name} is a Rust keyword, so it has no stub: use %faaset invoke {name}"),
                    );
                    return Ok(());
                }
                stubs::stub(&name)
            }
            Followup::Evaluate(code) => code,
        };
        self.run_rust(code, out, count).await
    }

    async fn run_rust(
        &mut self,
        code: String,
        out: &CellOutput,
        count: u32,
    ) -> Result<(), CellError> {
        let session = match self.session().await {
            Ok(session) => session,
            Err(e) => {
                return Err(CellError::new(
                    "SessionError",
                    format!("the Rust session is not running: {e}"),
                ))
            }
        };
        lock(&self.shared.panics).clear();
        self.shared.rust_running.store(true, Ordering::SeqCst);
        let result = session.execute(code.clone()).await;
        self.shared.rust_running.store(false, Ordering::SeqCst);
        let panics = std::mem::take(&mut *lock(&self.shared.panics));
        match result {
            Ok(outputs) => {
                if !panics.is_empty() {
                    return Err(panic_error(panics));
                }
                if !outputs.content_by_mime_type.is_empty() {
                    let bundle = crate::content::bundle(outputs.content_by_mime_type);
                    out.execute_result(count, bundle);
                }
                Ok(())
            }
            Err(evcxr::Error::CompilationErrors(errors)) => Err(compile_error(&errors, &code)),
            Err(evcxr::Error::SubprocessTerminated(why)) => {
                let interrupted = lock(&self.shared.cancel).is_cancelled();
                // The new session process needs the panic hook again.
                let _ = session
                    .execute("faaset_bridge::report_panics();".into())
                    .await;
                let kept = "the Rust session restarted: variables are gone; functions and stubs are still defined";
                Err(if interrupted {
                    CellError::new("Interrupted", format!("the cell was interrupted; {kept}"))
                } else if !panics.is_empty() {
                    panic_error(panics)
                } else {
                    CellError::new("SessionEnded", format!("{why}; {kept}"))
                })
            }
            Err(evcxr::Error::TypeRedefinedVariablesLost(variables)) => Err(CellError::new(
                "VariablesLost",
                format!(
                    "a type was redefined, so these variables were lost: {}",
                    variables.join(", ")
                ),
            )),
            Err(other) => Err(CellError::new("Error", other.to_string())),
        }
    }

    async fn complete(&mut self, code: &str, cursor: usize) -> Value {
        let position = byte_offset(code, cursor);
        if let Some(reply) = complete_magic(&self.workspace, code, position) {
            return reply;
        }
        let Ok(session) = self.session().await else {
            return json!({"status": "ok", "matches": [], "cursor_start": cursor, "cursor_end": cursor, "metadata": {}});
        };
        match session.completions(code.to_string(), position).await {
            Ok(completions) => {
                let matches: Vec<String> = completions
                    .completions
                    .iter()
                    .map(|c| c.code.clone())
                    .collect();
                json!({
                    "status": "ok",
                    "matches": matches,
                    "cursor_start": grapheme_offset(code, completions.start_offset),
                    "cursor_end": grapheme_offset(code, completions.end_offset),
                    "metadata": {},
                })
            }
            Err(e) => {
                json!({"status": "error", "ename": "CompletionError", "evalue": e.to_string(), "traceback": []})
            }
        }
    }

    async fn inspect(&mut self, code: &str, cursor: usize) -> Value {
        let not_found = json!({"status": "ok", "found": false, "data": {}, "metadata": {}});
        let Ok(session) = self.session().await else {
            return not_found;
        };
        match session
            .hover(code.to_string(), byte_offset(code, cursor))
            .await
        {
            Ok((plain, _)) if plain == "No documentation found" => not_found,
            Ok((plain, html)) => json!({
                "status": "ok", "found": true,
                "data": {"text/plain": plain, "text/html": html}, "metadata": {},
            }),
            Err(_) => not_found,
        }
    }
}

/// The shell socket and the signer, moved into the shell task.
pub struct ShellSockets {
    pub shell: zeromq::RouterSocket,
    pub signer: crate::jupyter::Signer,
}

/// Serves the control socket: interrupt and shutdown while a cell runs.
pub async fn serve_control(
    mut control: zeromq::RouterSocket,
    signer: crate::jupyter::Signer,
    shared: Arc<Shared>,
) -> Result<()> {
    loop {
        let request = match recv(&mut control, &signer).await {
            Ok(request) => request,
            Err(error) => {
                eprintln!("faaset-kernel: dropped a control message: {error:#}");
                continue;
            }
        };
        let content = match request.msg_type() {
            "interrupt_request" => {
                shared.interrupt();
                json!({"status": "ok"})
            }
            "kernel_info_request" => kernel_info(),
            "shutdown_request" => {
                let reply = request.reply(shutdown(&request, &shared).await);
                if let Err(error) = send(&mut control, &signer, &reply).await {
                    eprintln!("faaset-kernel: could not send the shutdown reply: {error:#}");
                }
                exit_soon();
                continue;
            }
            other => {
                eprintln!("faaset-kernel: ignoring control message {other}");
                continue;
            }
        };
        if let Err(error) = send(&mut control, &signer, &request.reply(content)).await {
            eprintln!("faaset-kernel: could not send a control reply: {error:#}");
        }
    }
}

/// Starts evcxr (its first evaluation takes seconds) and evaluates the prelude.
async fn start_session(shared: Arc<Shared>, functions: Vec<faaset::FunctionName>) -> Startup {
    let crates = match Crates::find() {
        Ok(crates) => crates,
        Err(e) => {
            return Startup {
                session: Err(e.to_string()),
                problem: None,
            }
        }
    };
    let sink = shared.clone();
    let started = tokio::task::spawn_blocking(move || Session::start(sink)).await;
    let session = match started {
        Ok(Ok(session)) => Arc::new(session),
        Ok(Err(e)) => {
            return Startup {
                session: Err(e.to_string()),
                problem: None,
            }
        }
        Err(e) => {
            return Startup {
                session: Err(e.to_string()),
                problem: None,
            }
        }
    };
    let _ = shared.session.set(session.clone());
    let problem = session
        .execute(stubs::prelude(&crates, &functions))
        .await
        .err()
        .map(|e| format!("defining the function stubs failed: {e}"));
    Startup {
        session: Ok(session),
        problem,
    }
}

/// Stops the running cell and the session process; the caller replies, then exits.
async fn shutdown(request: &Message, shared: &Shared) -> Value {
    shared.interrupt();
    if let Some(session) = shared.session.get() {
        session.interrupt();
    }
    // A cell that was interrupted may still be undoing something (a sweep putting the memory
    // back): let it finish, within reason, before the process exits.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, shared.cell.lock()).await;
    json!({"status": "ok", "restart": request.content["restart"].as_bool().unwrap_or(false)})
}

/// Exits after the reply had time to leave (the client restarts us if it asked to).
fn exit_soon() {
    tokio::spawn(async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        std::process::exit(0);
    });
}

pub fn kernel_info() -> Value {
    json!({
        "status": "ok",
        "protocol_version": crate::jupyter::message::PROTOCOL_VERSION,
        "implementation": "faaset",
        "implementation_version": env!("CARGO_PKG_VERSION"),
        "language_info": {
            "name": "rust",
            "version": "",
            "mimetype": "text/rust",
            "file_extension": ".rs",
            "pygments_lexer": "rust",
            "codemirror_mode": "rust",
        },
        "banner": format!("FaaSET-rs {}: Rust (evcxr) with %%cloud_function and %faaset magics; `%faaset help`", env!("CARGO_PKG_VERSION")),
    })
}

/// Runs `future` unless the cell is interrupted first.
async fn cancellable<T>(
    cancel: &CancellationToken,
    future: impl std::future::Future<Output = Result<T>>,
) -> Result<T, CellError> {
    tokio::select! {
        result = future => result.map_err(magic_error),
        _ = cancel.cancelled() => {
            Err(CellError::new("Interrupted", "the cell was interrupted; results written so far are kept"))
        }
    }
}

/// A magic's error: an interruption the magic handled itself is still "Interrupted".
fn magic_error(error: anyhow::Error) -> CellError {
    match error.downcast_ref::<faaset::Error>() {
        Some(faaset::Error::Interrupted(message)) => CellError::new("Interrupted", message),
        _ => usage(error),
    }
}

fn usage(error: anyhow::Error) -> CellError {
    CellError::new("FaaSETError", format!("{error:#}"))
}

fn panic_error(panics: Vec<String>) -> CellError {
    let evalue = panics.join("\n");
    CellError {
        ename: "Panic".into(),
        traceback: std::iter::once("panic:".to_string())
            .chain(evalue.lines().map(str::to_string))
            .collect(),
        evalue,
    }
}

/// Compile errors with their line and column in the cell and the line itself underlined.
fn compile_error(errors: &[evcxr::CompilationError], code: &str) -> CellError {
    let lines: Vec<&str> = code.lines().collect();
    let mut traceback = Vec::new();
    let mut first = None;
    for error in errors {
        let head = match error.code() {
            Some(code) => format!("error[{code}]: {}", error.message()),
            None => format!("error: {}", error.message()),
        };
        traceback.push(head.clone());
        for spanned in error.spanned_messages() {
            let Some(span) = &spanned.span else {
                if !spanned.label.is_empty() {
                    traceback.push(format!("  = {}", spanned.label));
                }
                continue;
            };
            let position = format!("line {}, column {}", span.start_line, span.start_column);
            if first.is_none() {
                first = Some(format!("{head} (cell {position})"));
            }
            traceback.push(format!("  --> cell {position}"));
            if let Some(source) = lines.get(span.start_line.saturating_sub(1)) {
                traceback.push(format!("   | {source}"));
                let width = if span.end_line == span.start_line {
                    span.end_column.saturating_sub(span.start_column).max(1)
                } else {
                    1
                };
                traceback.push(format!(
                    "   | {}{} {}",
                    " ".repeat(span.start_column.saturating_sub(1)),
                    "^".repeat(width),
                    spanned.label
                ));
            }
        }
        for help in error.help() {
            traceback.push(format!("help: {help}"));
        }
    }
    let evalue = first.unwrap_or_else(|| {
        errors
            .iter()
            .map(|e| e.message())
            .collect::<Vec<_>>()
            .join("; ")
    });
    CellError {
        ename: "CompileError".into(),
        evalue,
        traceback,
    }
}

/// Completion of `%faaset` lines: verbs, then function names.
fn complete_magic(workspace: &Workspace, code: &str, position: usize) -> Option<Value> {
    let line_start = code[..position].rfind('\n').map_or(0, |i| i + 1);
    let before = &code[line_start..position];
    let rest = before.strip_prefix("%faaset ")?;
    let word_start = before.rfind(' ').map_or(0, |i| i + 1);
    let word = &before[word_start..];
    let candidates: Vec<String> = if !rest.contains(' ') {
        magic::parse::VERBS.iter().map(|v| v.to_string()).collect()
    } else {
        workspace
            .functions()
            .iter()
            .map(|f| f.to_string())
            .collect()
    };
    let matches: Vec<String> = candidates
        .into_iter()
        .filter(|c| c.starts_with(word))
        .collect();
    Some(json!({
        "status": "ok",
        "matches": matches,
        "cursor_start": grapheme_offset(code, line_start + word_start),
        "cursor_end": grapheme_offset(code, position),
        "metadata": {},
    }))
}

fn cursor(content: &Value) -> usize {
    content["cursor_pos"].as_u64().unwrap_or(0) as usize
}

/// Jupyter counts cursor positions in characters (graphemes here, as evcxr_jupyter does).
fn byte_offset(code: &str, graphemes: usize) -> usize {
    code.grapheme_indices(true)
        .nth(graphemes)
        .map_or(code.len(), |(i, _)| i)
}

fn grapheme_offset(code: &str, byte: usize) -> usize {
    code.grapheme_indices(true)
        .take_while(|(i, _)| *i < byte)
        .count()
}

/// Binds the sockets, starts the kernel, and serves until shutdown.
pub async fn run(
    info: crate::jupyter::ConnectionInfo,
    workspace: Workspace,
    bridge: crate::BridgeListener,
) -> Result<()> {
    let sockets = Sockets::bind(&info).await?;
    let Sockets {
        shell,
        control,
        stdin: _stdin,
        iopub,
        signer,
    } = sockets;
    let (kernel, shared) = Kernel::start(workspace.clone(), iopub);
    tokio::spawn(crate::bridge::serve(
        bridge.listener,
        bridge.token,
        workspace,
        shared.clone(),
    ));
    {
        // Ctrl-C in the terminal that started the kernel interrupts the cell, as in Jupyter's
        // signal mode, instead of killing the kernel.
        let shared = shared.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                shared.interrupt();
            }
        });
    }
    tokio::spawn(serve_control(control, signer.clone(), shared));
    kernel.serve_shell(ShellSockets { shell, signer }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shutdown_request(restart: bool) -> Message {
        Message {
            identities: Vec::new(),
            header: json!({"msg_type": "shutdown_request", "msg_id": "m1"}),
            parent_header: json!({}),
            metadata: json!({}),
            content: json!({"restart": restart}),
        }
    }

    #[tokio::test]
    async fn a_shutdown_interrupts_the_cell_and_waits_for_it_to_finish() {
        let shared = Arc::new(Shared::new());
        let cancel = shared.fresh_cancel();
        let finished = Arc::new(AtomicBool::new(false));
        // A cell that, once interrupted, takes a while to undo what it did (a sweep's restore).
        let cell = {
            let (shared, finished) = (shared.clone(), finished.clone());
            let (started_tx, started) = tokio::sync::oneshot::channel();
            let task = tokio::spawn(async move {
                let _running = shared.cell.lock().await;
                let _ = started_tx.send(());
                cancel.cancelled().await;
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                finished.store(true, Ordering::SeqCst);
            });
            started.await.unwrap();
            task
        };
        let reply = shutdown(&shutdown_request(true), &shared).await;
        assert!(
            finished.load(Ordering::SeqCst),
            "the reply came before the cell ended"
        );
        assert_eq!(reply, json!({"status": "ok", "restart": true}));
        cell.await.unwrap();
    }

    #[tokio::test]
    async fn an_interrupt_drops_a_magic_unless_it_stops_itself() {
        let cancel = CancellationToken::new();
        let done = cancellable(&cancel, async { Ok::<_, anyhow::Error>(7) }).await;
        assert_eq!(done.ok(), Some(7));
        cancel.cancel();
        let dropped = cancellable(&cancel, std::future::pending::<Result<()>>()).await;
        assert_eq!(dropped.unwrap_err().ename, "Interrupted");
        // A magic that handled the interrupt itself reports it as Interrupted, with its words.
        let handled = magic_error(anyhow::Error::new(faaset::Error::Interrupted(
            "the sweep was interrupted; memory restored".into(),
        )));
        assert_eq!(
            (handled.ename.as_str(), handled.evalue.as_str()),
            ("Interrupted", "the sweep was interrupted; memory restored")
        );
        assert_eq!(magic_error(anyhow::anyhow!("bad")).ename, "FaaSETError");
    }

    #[test]
    fn kernel_info_names_the_language_and_protocol() {
        let info = kernel_info();
        assert_eq!(info["language_info"]["name"], "rust");
        assert_eq!(
            info["protocol_version"],
            crate::jupyter::message::PROTOCOL_VERSION
        );
        assert_eq!(info["status"], "ok");
    }
}
