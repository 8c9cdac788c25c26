//! `faaset-kernel --warm-up`: compiles, once per user, what notebook sessions use — the
//! crates the bridge and SAAF depend on, and polars for `%faaset load … polars=true` — into
//! the first build folder of the kernels' pool (`build_dir`) and evcxr's compiled-crate cache
//! (`~/.cache/evcxr`, see `stubs::CACHE_MIB`). install.sh runs it, so the first cell in a
//! folder never used before does not wait for them.

use std::sync::Arc;

use anyhow::{anyhow, Result};

use crate::display::Bundle;
use crate::session::{OutputSink, Session};
use crate::stubs::{self, Crates};

/// The session's output goes to the terminal that runs the warm-up.
struct Terminal;

impl OutputSink for Terminal {
    fn line(&self, _stream: &'static str, line: String) {
        eprintln!("  {line}");
    }
    fn display(&self, _bundle: Bundle) {}
    fn panic(&self, report: String) {
        eprintln!("  panic: {report}");
    }
}

pub fn run() -> Result<()> {
    let crates = Crates::find()?;
    // The first free build folder of the pool, the one the next kernel takes: it keeps what
    // is compiled and linked here (and evcxr's cache has the crates for the other folders).
    let _build_dir = crate::build_dir::take();
    crate::add_rust_libraries_to_library_path();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let session = tokio::task::spawn_blocking(|| Session::start(Arc::new(Terminal))).await??;
        let started = std::time::Instant::now();
        session
            .execute(stubs::prelude(&crates, &[]))
            .await
            .map_err(|e| anyhow!("the session's prelude: {e}"))?;
        eprintln!(
            "faaset-kernel: session crates compiled in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        let started = std::time::Instant::now();
        session
            .execute(format!(
                "{}\nlet _ = polars::prelude::DataFrame::empty();",
                stubs::POLARS_DEP
            ))
            .await
            .map_err(|e| anyhow!("polars in the session: {e}"))?;
        eprintln!(
            "faaset-kernel: polars compiled in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    });
    result
}
