//! What a cell shows: streams, rich outputs (HTML tables, SVG/PNG plots), updatable
//! displays (progress bars) and errors — all published on iopub under the cell's request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use faaset::report::{escape, Report};
use serde_json::{json, Map, Value};

use crate::jupyter::{Iopub, Message};

/// The outputs of one executing cell.
#[derive(Clone)]
pub struct CellOutput {
    iopub: Iopub,
    parent: Message,
}

/// A MIME bundle: the same content in several forms, the richest shown.
#[derive(Default)]
pub struct Bundle {
    data: Map<String, Value>,
}

impl Bundle {
    pub fn text(text: impl Into<String>) -> Bundle {
        let mut bundle = Bundle::default();
        bundle.data.insert("text/plain".into(), text.into().into());
        bundle
    }

    pub fn report(report: &Report) -> Bundle {
        Bundle::text(report.to_text()).with("text/html", report.to_html())
    }

    /// The MIME types and contents (what a display message carries as `data`).
    #[cfg(test)]
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }

    pub fn with(mut self, mime: &str, content: impl Into<Value>) -> Bundle {
        self.data.insert(mime.to_string(), content.into());
        self
    }

    /// A chart in every form given: SVG as text, PNG base64-encoded (as notebooks store it).
    pub fn images(images: &[faaset::plot::Image], alt: &str) -> Bundle {
        let mut bundle = Bundle::text(alt);
        for image in images {
            bundle = match image.as_svg() {
                Some(svg) => bundle.with("image/svg+xml", svg),
                None => bundle.with(
                    image.mime_type(),
                    base64::engine::general_purpose::STANDARD.encode(&image.bytes),
                ),
            };
        }
        bundle
    }
}

impl CellOutput {
    pub fn new(iopub: Iopub, parent: Message) -> CellOutput {
        CellOutput { iopub, parent }
    }

    pub fn stream(&self, name: &str, text: &str) {
        let text = if text.ends_with('\n') {
            text.to_string()
        } else {
            format!("{text}\n")
        };
        self.iopub.send(
            self.parent
                .child("stream", json!({ "name": name, "text": text })),
        );
    }

    pub fn display(&self, bundle: Bundle) {
        self.iopub.send(self.parent.child(
            "display_data",
            json!({ "data": bundle.data, "metadata": {}, "transient": {} }),
        ));
    }

    fn display_with_id(&self, bundle: Bundle, id: &str, update: bool) {
        let kind = if update {
            "update_display_data"
        } else {
            "display_data"
        };
        self.iopub.send(self.parent.child(
            kind,
            json!({ "data": bundle.data, "metadata": {}, "transient": { "display_id": id } }),
        ));
    }

    pub fn execute_result(&self, count: u32, bundle: Bundle) {
        self.iopub.send(self.parent.child(
            "execute_result",
            json!({ "execution_count": count, "data": bundle.data, "metadata": {} }),
        ));
    }

    pub fn error(&self, error: &CellError) {
        self.iopub.send(self.parent.child(
            "error",
            json!({
                "ename": error.ename,
                "evalue": error.evalue,
                "traceback": error.traceback,
            }),
        ));
    }
}

/// Why a cell failed, as Jupyter shows it.
#[derive(Debug, Clone)]
pub struct CellError {
    pub ename: String,
    pub evalue: String,
    pub traceback: Vec<String>,
}

impl CellError {
    pub fn new(ename: &str, evalue: impl Into<String>) -> CellError {
        let evalue = evalue.into();
        CellError {
            ename: ename.to_string(),
            traceback: vec![format!("{ename}: {evalue}")],
            evalue,
        }
    }
}

/// A live progress bar: one display, updated in place at most ten times a second.
pub struct ProgressBar {
    out: CellOutput,
    id: String,
    label: String,
    last: std::sync::Mutex<Option<Instant>>,
    started: Instant,
}

static NEXT_BAR: AtomicU64 = AtomicU64::new(1);

impl ProgressBar {
    pub fn new(out: &CellOutput, label: &str, total: usize) -> ProgressBar {
        let id = format!(
            "faaset-progress-{}-{}",
            std::process::id(),
            NEXT_BAR.fetch_add(1, Ordering::Relaxed)
        );
        let bar = ProgressBar {
            out: out.clone(),
            id,
            label: label.to_string(),
            last: std::sync::Mutex::new(None),
            started: Instant::now(),
        };
        bar.out
            .display_with_id(bar.render(0, total, 0), &bar.id, false);
        bar
    }

    /// Redraws when 100 ms passed since the last redraw, or when done.
    pub fn set(&self, done: usize, total: usize, errors: usize) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let due = last.is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
        if due || done >= total {
            *last = Some(Instant::now());
            self.out
                .display_with_id(self.render(done, total, errors), &self.id, true);
        }
    }

    /// Changes what the bar is about (a sweep moving to the next memory setting).
    pub fn relabel(&mut self, label: &str, total: usize) {
        self.label = label.to_string();
        self.started = Instant::now();
        self.out
            .display_with_id(self.render(0, total, 0), &self.id, true);
    }

    fn render(&self, done: usize, total: usize, errors: usize) -> Bundle {
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = if seconds > 0.0 {
            done as f64 / seconds
        } else {
            0.0
        };
        let errors_text = match errors {
            0 => String::new(),
            1 => ", 1 error".to_string(),
            n => format!(", {n} errors"),
        };
        let width = 30usize;
        let filled = (done * width).checked_div(total).unwrap_or(0).min(width);
        let text = format!(
            "{} [{}{}] {done}/{total} calls, {rate:.1}/s{errors_text}",
            self.label,
            "=".repeat(filled),
            " ".repeat(width - filled)
        );
        let html = format!(
            "<div class=\"faaset-progress\"><span>{}</span> <progress value=\"{done}\" max=\"{}\" style=\"width: 20em\"></progress> <span>{done}/{total} calls, {rate:.1}/s{}</span></div>",
            escape(&self.label),
            total.max(1),
            escape(&errors_text)
        );
        Bundle::text(text).with("text/html", html)
    }
}

/// The core's build/publish progress in the cell: its status lines as text, and what a step
/// prints (cargo's output, a script's) as one live line — the step, its time so far, its
/// latest line — instead of a stream of stderr that looks like an error. The whole output is
/// in the function's `logs/`, and shown in the cell when the step fails ([`show_failed_log`]).
pub struct CellSink {
    out: Option<CellOutput>,
    live: Arc<Mutex<LiveStep>>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

/// The step whose output is being summed up.
#[derive(Default)]
struct LiveStep {
    step: String,
    /// Set once the step printed something: the display showing it, and when it began.
    display: Option<(String, Instant)>,
    latest: String,
    lines: usize,
    drawn: Option<Instant>,
}

impl CellSink {
    pub fn new(out: Option<CellOutput>) -> CellSink {
        let live = Arc::new(Mutex::new(LiveStep::default()));
        // The elapsed time moves on while cargo compiles a large crate without printing.
        let ticker = match (&out, tokio::runtime::Handle::try_current()) {
            (Some(out), Ok(runtime)) => {
                let (out, live) = (out.clone(), Arc::downgrade(&live));
                Some(runtime.spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        let Some(live) = live.upgrade() else { return };
                        lock(&live).draw(&out, false);
                    }
                }))
            }
            _ => None,
        };
        CellSink { out, live, ticker }
    }
}

impl Drop for CellSink {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(out) = &self.out {
            lock(&self.live).finish(out);
        }
    }
}

impl LiveStep {
    fn draw(&mut self, out: &CellOutput, first: bool) {
        let Some((id, started)) = &self.display else {
            return;
        };
        let text = format!(
            "{} · {:.0} s · {}",
            self.step,
            started.elapsed().as_secs_f64(),
            self.latest
        );
        out.display_with_id(muted(text), id, !first);
        self.drawn = Some(Instant::now());
    }

    /// The step ended: its line says how much it printed and where all of it is.
    fn finish(&mut self, out: &CellOutput) {
        if let Some((id, started)) = self.display.take() {
            let text = format!(
                "{} · {} line{} of output in {:.1} s (all of it in the function's logs/)",
                self.step,
                self.lines,
                faaset::words::plural(self.lines),
                started.elapsed().as_secs_f64()
            );
            out.display_with_id(muted(text), &id, true);
        }
        *self = LiveStep::default();
    }
}

fn muted(text: String) -> Bundle {
    let html = format!(
        "<div class=\"faaset-build\" style=\"opacity: 0.7\"><code>{}</code></div>",
        escape(&text)
    );
    Bundle::text(text).with("text/html", html)
}

static NEXT_STEP: AtomicU64 = AtomicU64::new(1);

impl faaset::progress::Sink for CellSink {
    fn status(&self, line: &str) {
        if let Some(out) = &self.out {
            let mut live = lock(&self.live);
            live.finish(out);
            live.step = line.to_string();
            out.stream("stdout", line);
        }
    }

    fn output(&self, line: &str) {
        let Some(out) = &self.out else { return };
        let mut live = lock(&self.live);
        live.lines += 1;
        live.latest = shorten(line.trim(), 100);
        if live.display.is_none() {
            let id = format!(
                "faaset-build-{}-{}",
                std::process::id(),
                NEXT_STEP.fetch_add(1, Ordering::Relaxed)
            );
            live.display = Some((id, Instant::now()));
            live.draw(out, true);
        } else if live
            .drawn
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(200))
        {
            live.draw(out, false);
        }
    }
}

fn shorten(line: &str, limit: usize) -> String {
    match line.char_indices().nth(limit) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_string(),
    }
}

/// How many lines of a failed step's log a cell shows (its end, where the reason is).
const FAILED_LOG_LINES: usize = 80;

/// A build or publish step failed: shows the end of its log in the cell, under the error.
pub fn show_failed_log(out: &CellOutput, error: &faaset::Error) {
    let (faaset::Error::Compile { log, .. } | faaset::Error::Script { log, .. }) = error else {
        return;
    };
    let Ok(text) = std::fs::read_to_string(log) else {
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    let shown = &lines[lines.len().saturating_sub(FAILED_LOG_LINES)..];
    let mut block = format!("{} (last {} lines):\n", log.display(), shown.len());
    for line in shown {
        block.push_str(line);
        block.push('\n');
    }
    out.stream("stderr", &block);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
