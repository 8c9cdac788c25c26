//! The AWS Lambda platforms against a real moto server (`moto[server]` from PyPI, installed
//! by install.sh into FaaSET's venv) on 127.0.0.1 with Lambda's Docker-free backend: deploy
//! (create), code update, reconfigure without rebuild, invoke, an experiment, the function
//! URL platform, clear errors — all through the real `faaset` CLI, checked from the outside
//! with boto3 (moto's own dependency), an independent Lambda client.
//!
//! The built `bootstrap` is checked for Lambda's glibc (provided.al2023 has 2.34) and run
//! on the local platform unchanged.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{Run, TempWorkspace};

/// Fake keys: moto accepts any, and no test may ever touch real AWS.
const KEY_ID: &str = "AKIAFAASETTEST0042";
const SECRET: &str = "faaset-test-secret-never-written-anywhere";
const REGION: &str = "us-east-1";

/// FaaSET's venv, as build.sh finds it: `$FAASET_VENV`, else
/// `${FAASET_HOME:-~/.local/share/faaset}/venv`, else the kernel's `~/.local/share/faaset-venv`
/// — the first that has moto; the first candidate when none has.
fn venv() -> PathBuf {
    let home = PathBuf::from(std::env::var("HOME").expect("HOME"));
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".local/share"));
    let own = match std::env::var_os("FAASET_VENV").filter(|v| !v.is_empty()) {
        Some(venv) => PathBuf::from(venv),
        None => match std::env::var_os("FAASET_HOME") {
            Some(faaset_home) => PathBuf::from(faaset_home).join("venv"),
            None => home.join(".local/share/faaset/venv"),
        },
    };
    [own.clone(), data.join("faaset-venv")]
        .into_iter()
        .find(|v| v.join("bin/moto_server").is_file())
        .unwrap_or(own)
}

/// A moto server on a free loopback port, stopped on drop.
struct Moto {
    child: Child,
    url: String,
    role_arn: String,
}

impl Moto {
    /// Starts moto (`auth`: with IAM authentication on, so unknown keys are refused), switches
    /// Lambda to its Docker-free backend and creates the role functions run as.
    fn start(auth: bool) -> Moto {
        let server = venv().join("bin/moto_server");
        assert!(
            server.is_file(),
            "moto is not installed ({} is missing): run ./install.sh, which installs \
             requirements-aws.txt into FaaSET's venv",
            server.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(&server);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if auth {
            // IAM authentication from the first request on: our fake key is unknown.
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        let child = command.spawn().expect("start moto_server");
        let url = format!("http://127.0.0.1:{port}");
        let mut moto = Moto {
            child,
            url,
            role_arn: String::new(),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                let mut err = String::new();
                moto.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .ok();
                panic!("moto_server exited ({status}): {err}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "moto did not start in 300 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = moto.boto3(&format!(
            r#"
import json, urllib.request
req = urllib.request.Request("{url}/moto-api/config", method="POST",
    data=json.dumps({{"lambda": {{"use_docker": False}}}}).encode(),
    headers={{"Content-Type": "application/json"}})
config = json.load(urllib.request.urlopen(req))
assert config["lambda"]["use_docker"] is False, config
if not {auth}:
    role = iam.create_role(RoleName="faaset-test", AssumeRolePolicyDocument=json.dumps({{
        "Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {{"Service": "lambda.amazonaws.com"}}}}]}}))
    print(role["Role"]["Arn"])
else:
    print("arn:aws:iam::123456789012:role/faaset-test")
"#,
            url = moto.url,
            auth = if auth { "True" } else { "False" },
        ));
        moto.role_arn = out.trim().to_string();
        moto
    }

    /// Runs Python with boto3 clients `lam` and `iam` of this server; returns stdout.
    fn boto3(&self, body: &str) -> String {
        let script = format!(
            "import boto3\nkw = dict(endpoint_url={:?}, region_name={REGION:?}, \
             aws_access_key_id={KEY_ID:?}, aws_secret_access_key={SECRET:?})\n\
             lam = boto3.client('lambda', **kw)\niam = boto3.client('iam', **kw)\n{body}",
            self.url
        );
        let out = Command::new(venv().join("bin/python"))
            .arg("-c")
            .arg(script)
            .output()
            .expect("run the venv's python");
        assert!(
            out.status.success(),
            "boto3 script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// GetFunction's Configuration, as boto3 sees it.
    fn configuration(&self, name: &str) -> Value {
        let out = self.boto3(&format!(
            "import json\nprint(json.dumps(lam.get_function(FunctionName={name:?})['Configuration'], default=str))"
        ));
        serde_json::from_str(&out).unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment of every `faaset` call: fake keys, and no profile files of the machine.
fn aws_env(ws: &TempWorkspace) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            ws.file(".no-aws/credentials").display().to_string(),
        ),
        (
            "AWS_CONFIG_FILE",
            ws.file(".no-aws/config").display().to_string(),
        ),
        ("AWS_PROFILE", String::new()),
        ("AWS_REGION", String::new()),
        ("AWS_DEFAULT_REGION", String::new()),
        ("AWS_SESSION_TOKEN", String::new()),
    ]
}

fn faaset(ws: &TempWorkspace, args: &[&str], env: &[(&str, String)]) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ws.faaset_with_env(args, &env)
}

const SOURCE: &str = r#"
fn hello_aws(request: Value, _context: Context) -> Value {
    let mut inspector = Inspector::new();
    inspector.inspect_platform();
    inspector.add_attribute("message", format!("Hello {}!", request["name"].as_str().unwrap_or("World")));
    inspector.finish()
}
"#;

fn add_function(ws: &TempWorkspace, name: &str, platform: &str, source: &str) {
    ws.add_function_on(name, platform, &source.replace("hello_aws", name));
}

/// The newest `GLIBC_x.y` version a binary's dynamic symbols need.
fn newest_glibc(binary: &Path) -> (u32, u32) {
    let out = Command::new("objdump")
        .arg("-T")
        .arg(binary)
        .output()
        .expect("objdump (binutils) is installed");
    assert!(out.status.success(), "objdump -T failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let versions: Vec<(u32, u32)> = text
        .split("GLIBC_")
        .skip(1)
        .filter_map(|rest| {
            let version: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .collect();
    assert!(
        !versions.is_empty(),
        "no GLIBC symbols in {}: {text}",
        binary.display()
    );
    versions.into_iter().max().unwrap()
}

#[test]
fn aws_lifecycle_against_moto() {
    let moto = Moto::start(false);
    let ws = TempWorkspace::with_functions(&[]);
    add_function(&ws, "hello_aws", "aws", SOURCE);
    let env = aws_env(&ws);
    let base = json!({"region": REGION, "endpoint_url": moto.url});

    // Errors, each before anything is built or sent: the role is required...
    faaset(
        &ws,
        &["deploy", "hello_aws", "--config", &base.to_string()],
        &env,
    )
    .user_error("config key \"role\" is required for platform aws");
    let mut config = base.clone();
    config["role"] = json!(moto.role_arn);
    // ... the region must exist ...
    let mut bad = config.clone();
    bad["region"] = json!("mars-north-1");
    faaset(
        &ws,
        &["deploy", "hello_aws", "--config", &bad.to_string()],
        &env,
    )
    .user_error("bad value \"mars-north-1\" for config key \"region\" of platform aws");
    let mut from_env = env.clone();
    from_env.push(("AWS_REGION", "moon-1".into()));
    let mut no_region = config.clone();
    no_region.as_object_mut().unwrap().remove("region");
    faaset(
        &ws,
        &["deploy", "hello_aws", "--config", &no_region.to_string()],
        &from_env,
    )
    .user_error("unknown AWS region \"moon-1\"");
    // ... and credentials must be there.
    let no_keys: Vec<(&str, String)> = env
        .iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .cloned()
        .chain([
            ("AWS_ACCESS_KEY_ID", String::new()),
            ("AWS_SECRET_ACCESS_KEY", String::new()),
        ])
        .collect();
    faaset(
        &ws,
        &["deploy", "hello_aws", "--config", &config.to_string()],
        &no_keys,
    )
    .user_error("no AWS credentials: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    assert!(
        !ws.file("functions/hello_aws/aws/.build").exists(),
        "nothing is built before the configuration is complete"
    );

    // Deploy: build with cargo-lambda, then CreateFunction.
    let run = faaset(
        &ws,
        &["deploy", "hello_aws", "--config", &config.to_string()],
        &env,
    )
    .ok();
    assert!(run.stderr().contains("CreateFunction"), "{}", run.stderr());
    let created = moto.configuration("hello_aws");
    assert_eq!(created["Runtime"], "provided.al2023");
    assert_eq!(created["Handler"], "bootstrap");
    assert_eq!(created["MemorySize"], 512);
    assert_eq!(created["Role"], moto.role_arn.as_str());
    assert_eq!(created["Architectures"], json!(["x86_64"]));

    // The binary needs no glibc newer than provided.al2023's 2.34, and is in the zip as an
    // executable `bootstrap`.
    let build = ws.file("functions/hello_aws/aws/.build");
    let glibc = newest_glibc(&build.join("bootstrap"));
    assert!(
        glibc <= (2, 34),
        "bootstrap needs GLIBC_{}.{}",
        glibc.0,
        glibc.1
    );
    let listing = moto.boto3(&format!(
        "import zipfile\nfor i in zipfile.ZipFile({:?}).infolist(): print(i.filename, oct(i.external_attr >> 16))",
        build.join("bootstrap.zip").display().to_string()
    ));
    assert!(listing.starts_with("bootstrap 0o100755"), "{listing}");

    // Invoke through the Invoke API. moto's Docker-free backend answers with the payload.
    let run = faaset(&ws, &["invoke", "hello_aws", r#"{"name": "Lambda"}"#], &env).ok();
    let response = run.json();
    assert_eq!(response["name"], "Lambda", "{response}");
    assert!(response["roundTripTime"].as_f64().unwrap() > 0.0);

    // Unchanged: nothing to do.
    let run = faaset(&ws, &["deploy", "hello_aws"], &env).ok();
    assert!(run.stderr().contains("up to date"), "{}", run.stderr());

    // A source change: rebuild, UpdateFunctionConfiguration, UpdateFunctionCode.
    let sha_before = created["CodeSha256"].as_str().unwrap().to_string();
    let source = ws.file("functions/hello_aws/src/function.rs");
    let text = std::fs::read_to_string(&source).unwrap();
    std::fs::write(&source, text.replace("Hello {}!", "Hi {}!")).unwrap();
    let run = faaset(&ws, &["deploy", "hello_aws"], &env).ok();
    assert!(
        run.stderr().contains("UpdateFunctionCode"),
        "{}",
        run.stderr()
    );
    let updated = moto.configuration("hello_aws");
    assert_ne!(
        updated["CodeSha256"],
        sha_before.as_str(),
        "new code was uploaded"
    );

    // Reconfigure: configuration only — no build, no code upload.
    let build_log = ws.file("functions/hello_aws/aws/logs/build.log");
    let log_before = std::fs::read(&build_log).unwrap();
    let binary_before = std::fs::metadata(build.join("bootstrap"))
        .unwrap()
        .modified()
        .unwrap();
    let run = faaset(
        &ws,
        &["reconfigure", "hello_aws", r#"{"memory": 1024}"#],
        &env,
    )
    .ok();
    assert!(!run.stderr().contains("building"), "{}", run.stderr());
    assert!(
        !run.stderr().contains("UpdateFunctionCode"),
        "{}",
        run.stderr()
    );
    let reconfigured = moto.configuration("hello_aws");
    assert_eq!(reconfigured["MemorySize"], 1024);
    assert_eq!(
        reconfigured["CodeSha256"], updated["CodeSha256"],
        "the code was not touched"
    );
    assert_eq!(
        std::fs::read(&build_log).unwrap(),
        log_before,
        "build.log is untouched"
    );
    assert_eq!(
        std::fs::metadata(build.join("bootstrap"))
            .unwrap()
            .modified()
            .unwrap(),
        binary_before
    );

    // The architecture is built into the binary: reconfigure refuses to change it.
    faaset(
        &ws,
        &["reconfigure", "hello_aws", r#"{"architecture": "arm64"}"#],
        &env,
    )
    .user_error("changing \"architecture\" of hello_aws needs a new build");

    // An experiment through the runner: one row per call in results.csv.
    let run = faaset(
        &ws,
        &[
            "experiment",
            "hello_aws",
            "--threads",
            "2",
            "--runs-per-thread",
            "3",
            "--payloads",
            r#"[{"name": "a"}, {"name": "b"}]"#,
            "--experiment-name",
            "moto",
        ],
        &env,
    )
    .ok();
    let csv = std::fs::read_to_string(ws.file("functions/hello_aws/experiments/moto/results.csv"))
        .unwrap_or_else(|e| panic!("no results.csv ({e}): {}", run.stderr()));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} in {header:?}"))
    };
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    for row in &rows {
        assert_eq!(&row[column("platform")], "aws");
        assert_eq!(&row[column("error")], "", "{row:?}");
        assert!(["a", "b"].contains(&&row[column("name")]), "{row:?}");
        assert!(row[column("roundTripTime")].parse::<f64>().unwrap() > 0.0);
    }

    // Bad credentials: a server that checks them refuses our (unknown) key.
    let strict = Moto::start(true);
    let run = faaset(
        &ws,
        &[
            "reconfigure",
            "hello_aws",
            &json!({"endpoint_url": strict.url}).to_string(),
        ],
        &env,
    )
    .user_error("refused the credentials from the environment (access key …0042)");
    assert!(!run.stderr().contains(SECRET));
    // No credentials at all, and a profile that does not exist.
    faaset(
        &ws,
        &["reconfigure", "hello_aws", r#"{"memory": 2048}"#],
        &no_keys,
    )
    .user_error("no AWS credentials");
    faaset(
        &ws,
        &["reconfigure", "hello_aws", r#"{"profile": "nobody"}"#],
        &env,
    )
    .user_error("AWS profile \"nobody\" is not in");

    // Credentials are never written into the workspace (FAASET.json, logs, results).
    for (path, bytes) in all_files(ws.path()) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(SECRET) && !text.contains(KEY_ID),
            "{} holds credentials",
            path.display()
        );
    }

    // The binary built for Lambda runs on the local platform unchanged: a local deploy whose
    // build.sh takes the aws build's bootstrap instead of building.
    let local = ws.file("functions/hello_aws/local");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(
        local.join("build.sh"),
        "#!/usr/bin/env bash\nset -euo pipefail\ncp \"$1/../aws/.build/bootstrap\" \"$1/.build/bootstrap\"\n",
    )
    .unwrap();
    let run = faaset(
        &ws,
        &[
            "invoke",
            "hello_aws",
            "--platform",
            "local",
            r#"{"name": "local"}"#,
        ],
        &env,
    )
    .ok();
    let response = run.json();
    assert_eq!(response["message"], "Hi local!", "{response}");
    assert_eq!(
        response["platform"], "Local",
        "SAAF names the local platform: {response}"
    );
}

#[test]
fn function_url_platform_is_signed_unless_public() {
    let moto = Moto::start(false);
    let ws = TempWorkspace::with_functions(&[]);
    add_function(&ws, "hello_url", "aws_function_url", SOURCE);
    let env = aws_env(&ws);
    let config = json!({"region": REGION, "endpoint_url": moto.url, "role": moto.role_arn});
    let run = faaset(
        &ws,
        &["deploy", "hello_url", "--config", &config.to_string()],
        &env,
    )
    .ok();
    assert!(run.stderr().contains("function URL"), "{}", run.stderr());
    let url_config = |name: &str| -> Value {
        serde_json::from_str(&moto.boto3(&format!(
            "import json\nc = lam.get_function_url_config(FunctionName={name:?})\n\
             print(json.dumps({{'auth': c['AuthType'], 'url': c['FunctionUrl']}}))"
        )))
        .unwrap()
    };
    assert_eq!(
        url_config("hello_url")["auth"],
        "AWS_IAM",
        "signed by default"
    );
    // Public only when asked for, with the resource policy a public URL needs.
    faaset(
        &ws,
        &["reconfigure", "hello_url", r#"{"auth": "NONE"}"#],
        &env,
    )
    .ok();
    assert_eq!(url_config("hello_url")["auth"], "NONE");
    let policy = moto.boto3("print(lam.get_policy(FunctionName='hello_url')['Policy'])");
    assert!(policy.contains("lambda:InvokeFunctionUrl"), "{policy}");
    faaset(
        &ws,
        &["reconfigure", "hello_url", r#"{"auth": "PUBLIC"}"#],
        &env,
    )
    .user_error("bad value \"PUBLIC\" for config key \"auth\"");
}

#[test]
fn platform_templates_share_the_seed_lock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../platforms");
    let local = std::fs::read(root.join("local/Cargo.lock")).unwrap();
    // aws_function_url extends aws's template, so it has no lock of its own.
    for platform in ["aws", "openwhisk"] {
        assert!(
            std::fs::read(root.join(platform).join("Cargo.lock")).unwrap() == local,
            "platforms/{platform}/Cargo.lock differs from platforms/local/Cargo.lock: copy it over"
        );
    }
}

fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == ".build") {
            continue;
        }
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}
