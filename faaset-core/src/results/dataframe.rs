//! The rows as a polars `DataFrame` (feature `dataframe`): for Rust code that computes on
//! them. The CLI and the kernel do not need it, so they do not compile polars.

use super::{load, Results};
use crate::error::{Error, Result};
use crate::workspace::Workspace;

/// An experiment's rows as a polars `DataFrame`, every column of `results.csv` with its type
/// inferred from all rows (numbers as `i64`/`f64`, `coldStart` as `bool`, text as `str`), to
/// compute on in Rust or in the notebook. Unknown functions and experiments are refused as
/// by [`load`].
pub fn dataframe(
    workspace: &Workspace,
    function: &str,
    experiment: &str,
) -> Result<polars::prelude::DataFrame> {
    let results = load(workspace, function, experiment)?;
    read_dataframe(results.path())
}

/// Reads a results file as a `DataFrame` (schema inferred from every row), from the same
/// rows every other reader sees (damaged records left out).
pub fn read_dataframe(path: &std::path::Path) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::{CsvReadOptions, SerReader};
    let results = Results::from_path(path, "", "")?;
    let text = std::io::Cursor::new(results.to_csv()?);
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .into_reader_with_file_handle(text)
        .finish()
        .map_err(|e| {
            Error::Usage(format!(
                "cannot read {} as a table ({e}); check that it is an unedited results file",
                path.display()
            ))
        })
}
