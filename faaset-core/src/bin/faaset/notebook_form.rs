//! A line copied from a notebook works in a shell: after the verb, `key=value` is read as
//! `--key-with-dashes=value` (`threads=4` → `--threads=4`, `force=true` → `--force`), so
//! `faaset experiment f threads=4 experiment_name=e` does what `%faaset experiment f
//! threads=4 experiment_name=e` does. A key the verb does not have is an error naming the
//! flags it has. Function names, experiment names and JSON never look like `key=value`.

use std::ffi::OsString;

use clap::CommandFactory;

/// `args` (program name first) with every notebook-style option of the verb rewritten.
pub fn translate(args: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let command = crate::cli::Cli::command();
    let mut out = Vec::with_capacity(args.len());
    let mut verb: Option<&clap::Command> = None;
    let mut rest_are_positional = false;
    let mut skip_value = false;
    for (i, arg) in args.into_iter().enumerate() {
        let text = arg.to_string_lossy().into_owned();
        if i == 0 || rest_are_positional || skip_value {
            skip_value = false;
            out.push(arg);
            continue;
        }
        let Some(sub) = verb else {
            // Before the verb: global options (`--workspace DIR`) pass through.
            if text == "--workspace" {
                skip_value = true;
            } else if !text.starts_with('-') {
                verb = command.find_subcommand(&text);
            }
            out.push(arg);
            continue;
        };
        if text == "--" {
            rest_are_positional = true;
            out.push(arg);
            continue;
        }
        match notebook_option(&text) {
            Some((key, value)) => out.extend(rewrite(sub, key, value)?),
            None => out.push(arg),
        }
    }
    Ok(out)
}

/// `key=value` where `key` is a lowercase Rust-style name.
fn notebook_option(text: &str) -> Option<(&str, &str)> {
    let (key, value) = text.split_once('=')?;
    let mut chars = key.chars();
    let first = chars.next()?;
    (first.is_ascii_lowercase()
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
    .then_some((key, value))
}

fn rewrite(verb: &clap::Command, key: &str, value: &str) -> Result<Vec<OsString>, String> {
    let flag = faaset::verbs::flag(key);
    let Some(arg) = verb
        .get_arguments()
        .find(|a| a.get_long() == Some(flag.as_str()))
    else {
        let known: Vec<String> = verb
            .get_arguments()
            .filter_map(|a| a.get_long())
            .filter(|l| *l != "help")
            .map(|l| format!("--{l}"))
            .collect();
        let notebook_only = faaset::verbs::params(verb.get_name())
            .iter()
            .any(|p| p.key == key && p.surface == faaset::verbs::Surface::Notebook);
        let why = if notebook_only {
            "that option exists only in the notebook"
        } else {
            "it has no such option"
        };
        return Err(format!(
            "faaset {} does not take {key}= ({why}); its options: {}",
            verb.get_name(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    };
    if arg.get_action().takes_values() {
        return Ok(vec![format!("--{flag}={value}").into()]);
    }
    // A switch: `force=true` is `--force`, `force=false` is leaving it out.
    match value {
        "true" => Ok(vec![format!("--{flag}").into()]),
        "false" => Ok(Vec::new()),
        _ => Err(format!(
            "{key}= takes true or false, not {value:?} (or write --{flag})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Result<Vec<String>, String> {
        let args = text.split(' ').map(OsString::from).collect();
        translate(args).map(|a| a.into_iter().map(|s| s.into_string().unwrap()).collect())
    }

    #[test]
    fn a_notebook_line_becomes_flags() {
        assert_eq!(
            line("faaset experiment f threads=4 runs_per_thread=10 experiment_name=e shuffle_payloads=true").unwrap(),
            [
                "faaset",
                "experiment",
                "f",
                "--threads=4",
                "--runs-per-thread=10",
                "--experiment-name=e",
                "--shuffle-payloads"
            ]
        );
        assert_eq!(
            line("faaset --workspace w=x sweep f memory=128,256 paired=false").unwrap_err(),
            "faaset sweep does not take paired= (it has no such option); its options: --memory, \
             --threads, --runs-per-thread, --payloads, --payload, --experiment-name, \
             --discard-top-bottom, --output, --platform"
        );
        assert_eq!(
            line("faaset ttest a/e b/e paired=false").unwrap(),
            ["faaset", "ttest", "a/e", "b/e"]
        );
        assert!(line("faaset deploy f force=yes")
            .unwrap_err()
            .contains("takes true or false"));
        assert!(line("faaset load f e polars=true")
            .unwrap_err()
            .contains("only in the notebook"));
        // JSON, flags and anything after `--` are left alone.
        assert_eq!(
            line(r#"faaset invoke f {"a":"b=c"} -- x=1"#).unwrap(),
            ["faaset", "invoke", "f", r#"{"a":"b=c"}"#, "--", "x=1"]
        );
    }

    #[test]
    fn every_cli_argument_takes_its_help_from_the_verb_table() {
        let command = crate::cli::Cli::command();
        command.clone().debug_assert();
        for (verb, params) in faaset::verbs::VERBS {
            let sub = command.find_subcommand(verb).expect("a verb of the table");
            for p in params
                .iter()
                .filter(|p| p.surface != faaset::verbs::Surface::Notebook)
            {
                let arg = sub
                    .get_arguments()
                    .find(|a| a.get_long() == Some(faaset::verbs::flag(p.key).as_str()))
                    .unwrap_or_else(|| panic!("faaset {verb} has no --{}", p.key));
                assert_eq!(
                    arg.get_help().map(|h| h.to_string()).as_deref(),
                    Some(p.help),
                    "{verb} --{}",
                    p.key
                );
            }
        }
    }
}
