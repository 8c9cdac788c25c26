//! Verbs that run calls: `experiment`, `sweep`.

use faaset::{Error, Result, Workspace};

use crate::cli::{ExperimentArgs, SweepArgs};

pub async fn experiment(_workspace: &Workspace, _args: ExperimentArgs) -> Result<()> {
    Err(Error::Usage(
        "`faaset experiment` is not implemented yet".into(),
    ))
}

pub async fn sweep(_workspace: &Workspace, _args: SweepArgs) -> Result<()> {
    Err(Error::Usage("`faaset sweep` is not implemented yet".into()))
}
