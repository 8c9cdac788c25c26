//! Verbs that read experiment results: `load`, `stats`, `ttest`, `plot`.

use faaset::{Error, Result, Workspace};

use crate::cli::{LoadArgs, PlotArgs, StatsArgs, TtestArgs};

fn not_yet(verb: &str) -> Error {
    Error::Usage(format!("`faaset {verb}` is not implemented yet"))
}

pub fn load(_workspace: &Workspace, _args: LoadArgs) -> Result<()> {
    Err(not_yet("load"))
}

pub fn stats(_workspace: &Workspace, _args: StatsArgs) -> Result<()> {
    Err(not_yet("stats"))
}

pub fn ttest(_workspace: &Workspace, _args: TtestArgs) -> Result<()> {
    Err(not_yet("ttest"))
}

pub fn plot(_workspace: &Workspace, _args: PlotArgs) -> Result<()> {
    Err(not_yet("plot"))
}
