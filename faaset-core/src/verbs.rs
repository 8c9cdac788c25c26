//! The parameters of each verb, written once for both front ends: the CLI's `--flag` (clap
//! takes its help text from here) and the notebook's `key=value` (the magic parser takes its
//! keys and `%faaset help` its text from here). Defaults are typed constants beside the
//! request types they fill ([`crate::experiment::spec`], [`crate::experiment::sweep`],
//! [`crate::results`]); tests in both front ends check that an empty line gives exactly
//! those defaults.
//!
//! A notebook key is a Rust-style name (`runs_per_thread`); its flag is the same with
//! dashes (`--runs-per-thread`), see [`flag`].

/// Where a parameter can be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Both,
    /// Only on the command line (e.g. `--output`: the notebook shows charts inline).
    Cli,
    /// Only in a magic (e.g. `polars=true`: a DataFrame needs a Rust session).
    Notebook,
}

/// One parameter of a verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The notebook key, e.g. `runs_per_thread`.
    pub key: &'static str,
    /// One line of help, shown by `faaset <verb> --help` and `%faaset help <verb>`.
    pub help: &'static str,
    pub surface: Surface,
}

const fn param(surface: Surface, key: &'static str, help: &'static str) -> Param {
    Param { key, help, surface }
}

const fn both(key: &'static str, help: &'static str) -> Param {
    param(Surface::Both, key, help)
}

const PLATFORM: Param = both(
    "platform",
    "Platform (default: the function's saved platform)",
);
/// A cell's function is deployed to the platform its `%%cloud_function` line names.
const CLI_PLATFORM: Param = param(
    Surface::Cli,
    "platform",
    "Platform (default: the function's saved platform)",
);
const THREADS: Param = both("threads", "Concurrent workers");
const PAYLOADS: Param = both(
    "payloads",
    "JSON array of payloads, spread over all calls (CLI: also @FILE or -; default: [{}])",
);
const PAYLOAD: Param = both(
    "payload",
    "One JSON object used for every call (instead of payloads)",
);
const METRIC: Param = both("metric", "Column to use");
const RESAMPLES: Param = both(
    "resamples",
    "Bootstrap resamples of the confidence intervals (percentile bootstrap)",
);
const BOOTSTRAP_SEED: Param = both("seed", "Seed of the bootstrap resampling");
const GROUP_BY: Param = both("group_by", "Per value of this column (e.g. memorySize)");

/// The parameters (beyond the positional names) of every verb, by verb.
pub const VERBS: &[(&str, &[Param])] = &[
    (
        "deploy",
        &[
            CLI_PLATFORM,
            param(Surface::Cli, "config", "Configuration JSON object on top of the saved one"),
            both("force", "Build and publish even when nothing changed"),
        ],
    ),
    ("invoke", &[CLI_PLATFORM]),
    ("reconfigure", &[CLI_PLATFORM]),
    (
        "experiment",
        &[
            THREADS,
            both("runs_per_thread", "Sequential calls per worker"),
            both(
                "calls",
                "Total calls instead of runs_per_thread, spread over the workers as evenly as possible",
            ),
            PAYLOADS,
            PAYLOAD,
            both(
                "experiment_name",
                "Results go to functions/<fn>/experiments/<name>/ (a second run appends)",
            ),
            both("shuffle_payloads", "Shuffle the payload order (seeded)"),
            both("tags", "JSON object of tags recorded on every row"),
            both("seed", "Seed of the payload shuffle and of poisson arrivals"),
            both(
                "rate",
                "Open loop: calls per second, each started on schedule whatever the answers do (with duration)",
            ),
            both("duration", "Open loop: seconds at rate"),
            both(
                "arrival",
                "Open loop: uniform (equally spaced) or poisson (exponential gaps, seeded)",
            ),
            both(
                "phases",
                "Open loop: JSON array of phases instead of rate and duration, e.g. [{\"rate\": 100, \"duration\": 5}, {\"rate\": 100, \"to_rate\": 1000, \"duration\": 5}]",
            ),
            both(
                "concurrency",
                "Open loop: most calls in flight; a call finding none free waits (its queueTime)",
            ),
            both(
                "cold",
                "Every call a cold start: a fresh execution environment per call (local platform)",
            ),
            PLATFORM,
        ],
    ),
    (
        "sweep",
        &[
            both("memory", "Memory settings in MB, comma separated"),
            THREADS,
            both("runs_per_thread", "Sequential calls per worker at each setting"),
            PAYLOADS,
            PAYLOAD,
            both(
                "experiment_name",
                "Experiment the rows go to (each row tagged with its memory setting)",
            ),
            both(
                "discard_top_bottom",
                "Fraction of the slowest and of the fastest calls dropped before averaging",
            ),
            param(
                Surface::Cli,
                "output",
                "Chart file (.svg or .png); default: <experiment folder>/sweep.svg",
            ),
            PLATFORM,
        ],
    ),
    (
        "load",
        &[
            param(Surface::Cli, "csv", "Print CSV instead of a table"),
            param(
                Surface::Notebook,
                "polars",
                "Bind a polars DataFrame instead of FaaSET's Results (needs `as <var>`)",
            ),
        ],
    ),
    (
        "stats",
        &[
            METRIC,
            GROUP_BY,
            both(
                "ci_width",
                "Width of the 95% CIs wanted, in the metric's unit: says how many calls each needs",
            ),
            RESAMPLES,
            BOOTSTRAP_SEED,
        ],
    ),
    (
        "ttest",
        &[
            METRIC,
            both(
                "paired",
                "Paired t-test (rows matched in order) instead of Welch's",
            ),
            RESAMPLES,
            BOOTSTRAP_SEED,
        ],
    ),
    (
        "plot",
        &[
            both("kind", "hist, box, cdf or timeline"),
            METRIC,
            both("group_by", "Group the box plot by this column"),
            param(
                Surface::Cli,
                "output",
                "Output file (.svg or .png); default: <experiment folder>/<kind>-<metric>.svg",
            ),
        ],
    ),
    ("list", &[]),
];

/// The parameters of `verb` (none for an unknown verb).
pub fn params(verb: &str) -> &'static [Param] {
    VERBS
        .iter()
        .find(|(v, _)| *v == verb)
        .map(|(_, p)| *p)
        .unwrap_or(&[])
}

/// The keys a magic of `verb` accepts.
pub fn notebook_keys(verb: &str) -> Vec<&'static str> {
    params(verb)
        .iter()
        .filter(|p| p.surface != Surface::Cli)
        .map(|p| p.key)
        .collect()
}

/// The help line of `verb`'s parameter `key`, for clap's `help = …`. Panics on a pair that
/// is not in [`VERBS`]: a front end naming a parameter the table lacks is a bug, and the
/// CLI's `debug_assert` test meets it at once.
pub fn help(verb: &str, key: &str) -> &'static str {
    params(verb)
        .iter()
        .find(|p| p.key == key)
        .map(|p| p.help)
        .unwrap_or_else(|| panic!("verbs::VERBS has no parameter {key} of {verb}"))
}

/// The command-line flag of a notebook key: `runs_per_thread` → `runs-per-thread`.
pub fn flag(key: &str) -> String {
    key.replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_per_verb_and_rust_style() {
        for (verb, params) in VERBS {
            for (i, p) in params.iter().enumerate() {
                assert!(
                    !params[..i].iter().any(|q| q.key == p.key),
                    "{verb}: {} twice",
                    p.key
                );
                assert!(
                    p.key.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{verb}: {}",
                    p.key
                );
                assert!(!p.help.is_empty() && !p.help.ends_with('.'));
            }
        }
        assert_eq!(flag("runs_per_thread"), "runs-per-thread");
        assert!(notebook_keys("load").contains(&"polars"));
        assert!(!notebook_keys("load").contains(&"csv"));
    }
}
