//! Bad input gets a one-line error saying what to fix, exit code 1, and writes nothing.

use crate::support::TempWorkspace;

#[test]
fn bad_names_platforms_and_config_write_nothing() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    let before = ws.snapshot();
    let cases: &[(&[&str], &str)] = &[
        (&["deploy", "../x"], "invalid function name \"../x\""),
        (&["new", "../x"], "invalid function name \"../x\""),
        (&["new", "Hello"], "invalid function name \"Hello\""),
        (&["invoke", "Hello"], "invalid function name \"Hello\""),
        (&["deploy", "hello_world", "--platform", "nope"], "unknown platform \"nope\" (available: aws, aws_function_url, azure, google, http, local, openwhisk)"),
        (&["new", "fresh", "--platform", "nope"], "unknown platform \"nope\""),
        (&["deploy", "hello_world", "--config", r#"{"memroy":1024}"#], "unknown config key \"memroy\" for platform local (did you mean \"memory\"?"),
        (&["deploy", "hello_world", "--config", r#"{"memory":50}"#], "bad value 50 for config key \"memory\" of platform local: expected an integer from 128 to 10240 MB"),
        (&["deploy", "hello_world", "--config", "{memory"], "--config is not valid JSON"),
        (&["deploy", "nothing_here"], "unknown function \"nothing_here\""),
        (&["invoke", "hello_world", "{not json"], "the payload is not valid JSON"),
        (&["reconfigure", "hello_world", r#"{"memory":50}"#], "expected an integer from 128 to 10240"),
        (&["reconfigure", "hello_world", r#"{"memory":256}"#], "hello_world is not deployed on local: run `faaset deploy hello_world --platform local` first"),
    ];
    ws.refuses_without_writing(cases, &before);
}

#[test]
fn a_required_key_left_unset_is_named() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    // A workspace-local copy of the platform whose default leaves `memory` to the user.
    let template = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../platforms/local");
    let own = ws.file("platforms/local");
    std::fs::create_dir_all(own.join("wrapper")).unwrap();
    for file in [
        "build.sh",
        "run.sh",
        "Cargo.lock",
        "wrapper/Cargo.toml",
        "wrapper/main.rs",
    ] {
        std::fs::copy(template.join(file), own.join(file)).unwrap();
    }
    std::fs::write(
        own.join("default_config.json"),
        r#"{"memory": "FAASET_REQUIREMENT", "timeout": 3}"#,
    )
    .unwrap();
    let before = ws.snapshot();
    ws.faaset(&["deploy", "hello_world"])
        .user_error("config key \"memory\" is required for platform local");
    assert!(ws.snapshot() == before);
}

#[test]
fn a_compile_error_names_the_users_line_and_keeps_the_deployed_state() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function(
        "broken",
        "fn broken(request: Value, _context: Context) -> Value {\n    let x = 1;\n    json!({ \"y\": y })\n}\n",
    );
    let state = std::fs::read_to_string(ws.file("functions/broken/FAASET.json")).unwrap();
    let run = ws
        .faaset(&["deploy", "broken"])
        .user_error("function broken does not compile");
    let stderr = run.stderr();
    assert!(stderr.contains("cannot find value `y`"), "{stderr}");
    assert!(
        stderr.contains("functions/broken/src/function.rs:3:"),
        "{stderr}"
    );
    assert!(stderr.contains("logs/build.log"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(ws.file("functions/broken/FAASET.json")).unwrap(),
        state
    );
}

#[test]
fn a_missing_entry_function_is_explained() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function(
        "lonely",
        "fn other(request: Value, _context: Context) -> Value { request }\n",
    );
    ws.faaset(&["deploy", "lonely"])
        .user_error("the source has no function `fn lonely(");
}
