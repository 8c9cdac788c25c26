//! Deploy, invoke, up-to-date checks and reconfigure, as a new user does them.

use crate::support::TempWorkspace;

#[test]
fn deploy_invoke_redeploy_reconfigure() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    let deploy = ws.faaset(&["deploy", "hello_world"]).ok();
    assert!(
        deploy.stderr().contains("built and published"),
        "{}",
        deploy.stderr()
    );
    assert!(ws
        .file("functions/hello_world/local/.build/bootstrap")
        .is_file());
    assert!(ws
        .file("functions/hello_world/local/logs/build.log")
        .is_file());

    let response = ws
        .faaset(&["invoke", "hello_world", r#"{"name":"Steve"}"#])
        .ok()
        .json();
    assert_eq!(response["message"], "Hello Steve!");
    let round_trip = response["roundTripTime"].as_f64().expect("roundTripTime");
    let latency = response["latency"].as_f64().expect("latency");
    let runtime = response["runtime"].as_f64().expect("runtime from saaf");
    assert!((round_trip - runtime - latency).abs() < 1e-6);
    assert_eq!(response["platform"], "Local");
    assert_eq!(response["functionMemory"], 512);

    // Unchanged: no build, no publish, says so.
    let again = ws.faaset(&["deploy", "hello_world"]).ok();
    assert!(again.stderr().contains("up to date"), "{}", again.stderr());
    assert!(!again.stderr().contains("building"), "{}", again.stderr());

    // Reconfigure: publish only; the next response sees the new memory.
    let build_log = std::fs::metadata(ws.file("functions/hello_world/local/logs/build.log"))
        .unwrap()
        .modified()
        .unwrap();
    let reconfigure = ws
        .faaset(&["reconfigure", "hello_world", r#"{"memory":1024}"#])
        .ok();
    assert!(
        !reconfigure.stderr().contains("building"),
        "{}",
        reconfigure.stderr()
    );
    let response = ws.faaset(&["invoke", "hello_world", "{}"]).ok().json();
    assert_eq!(response["functionMemory"], 1024);
    assert_eq!(response["memorySize"], 1024);
    assert_eq!(response["message"], "Hello World!");
    let after = std::fs::metadata(ws.file("functions/hello_world/local/logs/build.log"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(build_log, after, "reconfigure must not rebuild");
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.file("functions/hello_world/FAASET.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["config"]["local"]["memory"], 1024);
    assert_eq!(state["deployed"]["local"]["config"]["memory"], 1024);

    // A source change rebuilds; the new code answers.
    let source = ws.file("functions/hello_world/src/function.rs");
    let text = std::fs::read_to_string(&source)
        .unwrap()
        .replace("Hello {name}!", "Howdy {name}!");
    std::fs::write(&source, text).unwrap();
    let response = ws
        .faaset(&["invoke", "hello_world", r#"{"name":"Ann"}"#])
        .ok();
    assert!(
        response.stderr().contains("built and published"),
        "{}",
        response.stderr()
    );
    assert_eq!(response.json()["message"], "Howdy Ann!");
}

#[test]
fn new_creates_a_function_from_the_template() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.faaset(&["new", "greeter"]).ok();
    assert!(ws.file("functions/greeter/src/function.rs").is_file());
    assert!(ws.file("functions/greeter/local/build.sh").is_file());
    ws.faaset(&["new", "greeter"]).user_error("already exists");
    let response = ws
        .faaset(&["invoke", "greeter", r#"{"name":"Bo"}"#])
        .ok()
        .json();
    assert_eq!(response["message"], "Hello Bo!");
    let list = ws.faaset(&["list"]).ok().stdout();
    assert!(
        list.contains("greeter")
            && list.contains(
                "platforms: aws, aws_function_url, azure, google, http, local, openwhisk"
            ),
        "{list}"
    );
}

#[test]
fn per_function_script_edits_survive_and_trigger_a_rebuild() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.faaset(&["deploy", "hello_world"]).ok();
    let build = ws.file("functions/hello_world/local/build.sh");
    let edited = std::fs::read_to_string(&build).unwrap() + "echo custom-step-ran\n";
    std::fs::write(&build, &edited).unwrap();
    let deploy = ws.faaset(&["deploy", "hello_world"]).ok();
    assert!(
        deploy.stderr().contains("custom-step-ran"),
        "{}",
        deploy.stderr()
    );
    assert_eq!(std::fs::read_to_string(&build).unwrap(), edited);
}

#[test]
fn a_customised_run_script_is_honoured() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.faaset(&["deploy", "hello_world"]).ok();
    // A run.sh that calls the engine as the template does, then tags the response.
    let run = ws.file("functions/hello_world/local/run.sh");
    let script = std::fs::read_to_string(&run).unwrap();
    let script = script.replace(
        "\"http://$address/2015-03-31/functions/$fn/invocations\"",
        "\"http://$address/2015-03-31/functions/$fn/invocations\" | sed 's/^{/{\"viaScript\":true,/'",
    );
    std::fs::write(&run, script).unwrap();
    let response = ws
        .faaset(&["invoke", "hello_world", r#"{"name":"Sam"}"#])
        .ok()
        .json();
    assert_eq!(response["viaScript"], true, "{response}");
    assert_eq!(response["message"], "Hello Sam!");
    assert!(response["roundTripTime"].as_f64().is_some());
}

#[test]
fn a_failed_build_keeps_the_deployed_function_reconfigurable() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.faaset(&["deploy", "hello_world"]).ok();
    let source = ws.file("functions/hello_world/src/function.rs");
    let good = std::fs::read_to_string(&source).unwrap();
    std::fs::write(
        &source,
        good.replace("inspector.finish()", "inspector.finish("),
    )
    .unwrap();
    ws.faaset(&["deploy", "hello_world"])
        .user_error("does not compile");
    // `.build/` holds the failed build; the last deployed binary is still published.
    ws.faaset(&["reconfigure", "hello_world", r#"{"memory":256}"#])
        .ok();
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.file("functions/hello_world/FAASET.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["deployed"]["local"]["config"]["memory"], 256);
    std::fs::write(&source, good).unwrap();
    let response = ws.faaset(&["invoke", "hello_world"]).ok().json();
    assert_eq!(response["memorySize"], 256);
}

#[test]
fn two_workspaces_with_the_same_function_name_run_their_own_code() {
    // Regression: cargo identified both crates alike in the shared target directory, so a
    // build could be "fresh" with the other workspace's binary.
    let (a, b) = (
        TempWorkspace::with_functions(&["hello_world"]),
        TempWorkspace::with_functions(&["hello_world"]),
    );
    for (ws, word) in [(&a, "Ahoy"), (&b, "Bonjour"), (&a, "Aloha")] {
        let source = ws.file("functions/hello_world/src/function.rs");
        let text = std::fs::read_to_string(&source).unwrap();
        let start = text.find("format!(\"").unwrap() + "format!(\"".len();
        let end = start + text[start..].find(' ').unwrap();
        std::fs::write(&source, format!("{}{word}{}", &text[..start], &text[end..])).unwrap();
        let response = ws
            .faaset(&["invoke", "hello_world", r#"{"name":"X"}"#])
            .ok()
            .json();
        assert_eq!(response["message"], format!("{word} X!"));
    }
    let response = b
        .faaset(&["invoke", "hello_world", r#"{"name":"X"}"#])
        .ok()
        .json();
    assert_eq!(response["message"], "Bonjour X!");
}
