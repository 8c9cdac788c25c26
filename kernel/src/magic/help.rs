//! `%faaset help [topic]`.

const OVERVIEW: &str = r#"FaaSET kernel: Rust cells (evcxr) plus magics.

%%cloud_function <platform> [<config JSON>] [--name <fn>] [--force] [--no-deploy]
    The cell is a FaaS function: saved to functions/<fn>/, deployed if it changed,
    and callable from Rust cells as  let r = hello_world(json!({"name": "Steve"}));

%faaset reconfigure <fn> <config JSON>        publish a new configuration, no rebuild
%faaset deploy <fn> [force=true]              build + publish now
%faaset invoke <fn> [<payload JSON>]          one call, shows the response
%faaset experiment <fn> threads=N runs_per_thread=N payloads=<JSON array>
                   experiment_name=<name> [shuffle_payloads=true] [tags=<JSON object>]
                   [calls=N] [seed=N] [platform=P]
%faaset load <fn> <experiment> [as <var>] [polars=true]
%faaset stats <fn> <experiment> [metric=runtime] [group_by=<column>]
%faaset ttest <fn>/<experiment> <fn>/<experiment> [metric=runtime] [paired=false]
%faaset plot <fn> <experiment> [kind=hist|box|timeline|cdf] [metric=runtime] [group_by=<column>]
%faaset sweep <fn> [memory=128,256,512,1024,2048] [threads=1] [runs_per_thread=10]
              [payloads=<JSON array>] [experiment_name=memory_sweep] [discard_top_bottom=0.2]
%faaset list                                  functions, platforms, deployed state
%faaset help [topic]                          topics: the verbs above, cloud_function

Magics go at the top of a cell; Rust code may follow them. Values are JSON or bare words."#;

pub fn text(topic: Option<&str>) -> Result<String, String> {
    let Some(topic) = topic else {
        return Ok(OVERVIEW.to_string());
    };
    let wanted = if topic == "cloud_function" {
        "%%cloud_function".to_string()
    } else {
        format!("%faaset {topic}")
    };
    let mut lines = Vec::new();
    let mut inside = false;
    for line in OVERVIEW.lines() {
        if line.starts_with('%') {
            inside = line.starts_with(&format!("{wanted} ")) || line == wanted;
        } else if line.is_empty() {
            inside = false;
        }
        if inside {
            lines.push(line);
        }
    }
    if lines.is_empty() {
        return Err(format!(
            "no help on {topic:?}: topics are cloud_function, {}",
            super::parse::VERBS.join(", ")
        ));
    }
    // Each option's meaning, from the table the CLI's --help uses too.
    let params: Vec<_> = faaset::verbs::params(topic)
        .iter()
        .filter(|p| p.surface != faaset::verbs::Surface::Cli)
        .collect();
    if !params.is_empty() {
        lines.push("");
        let width = params.iter().map(|p| p.key.len()).max().unwrap_or(0);
        let described: Vec<String> = params
            .iter()
            .map(|p| format!("    {:width$}  {}", p.key, p.help))
            .collect();
        let mut text = lines.join("\n");
        text.push('\n');
        text.push_str(&described.join("\n"));
        return Ok(text);
    }
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verb_has_help() {
        for verb in super::super::parse::VERBS {
            let text = text(Some(verb)).unwrap();
            assert!(
                text.starts_with(&format!("%faaset {verb}")),
                "{verb}: {text}"
            );
        }
        assert!(text(Some("experiment"))
            .unwrap()
            .contains("shuffle_payloads"));
        assert!(text(Some("cloud_function"))
            .unwrap()
            .contains("--no-deploy"));
        assert!(text(Some("nope")).is_err());
    }

    #[test]
    fn every_option_a_magic_takes_is_explained() {
        for (verb, params) in faaset::verbs::VERBS {
            let text = text(Some(verb)).unwrap();
            for p in params.iter() {
                let shown = text.contains(&format!("    {} ", p.key));
                let notebook = p.surface != faaset::verbs::Surface::Cli;
                assert_eq!(shown, notebook, "%faaset help {verb} and {}: {text}", p.key);
            }
        }
    }
}
