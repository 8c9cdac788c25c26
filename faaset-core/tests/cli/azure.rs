//! The `azure` platform end to end through the real `faaset` CLI, offline:
//!
//! - a contract test of Azure's control plane (`azure_control_plane.py`, FaaSET's venv Python):
//!   Entra ID's client-credentials token endpoint for a service principal it made up, ARM for
//!   the resource types FaaSET uses (api-versions of Microsoft's SDKs, long-running operations
//!   with `Location` and `Azure-AsyncOperation`), the app's SCM site taking the OneDeploy zip
//!   (read with Python's zipfile) and the app's host, which runs the real binary from the zip
//!   under the custom handler contract;
//! - Microsoft's SDKs (PyPI azure-mgmt-resource, azure-mgmt-storage, azure-mgmt-web) send the
//!   same operations to a loopback recorder (`azure_sdk_client.py`); every ARM request body of
//!   FaaSET's equals theirs;
//! - the package is checked with Python's zipfile (an independent reader) and its `bootstrap`
//!   run under a driver of the custom handler contract (a contract test, not a Functions host).
//!
//! It is not Azure: the Functions host, scaling, the front end, Entra ID's checks beyond the
//! secret and RBAC are not here (docs/azure.md).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{Run, TempWorkspace};

/// FaaSET's venv Python (install.sh puts requirements-azure.txt there).
fn python() -> PathBuf {
    let home = PathBuf::from(std::env::var("HOME").expect("HOME"));
    let venv = match std::env::var_os("FAASET_VENV").filter(|v| !v.is_empty()) {
        Some(venv) => PathBuf::from(venv),
        None => match std::env::var_os("FAASET_HOME") {
            Some(faaset_home) => PathBuf::from(faaset_home).join("venv"),
            None => home.join(".local/share/faaset/venv"),
        },
    };
    let python = venv.join("bin/python");
    let ready = Command::new(&python)
        .args([
            "-c",
            "import azure.mgmt.web, azure.mgmt.storage, azure.mgmt.resource.resources",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ready,
        "{} cannot import azure-mgmt-web, azure-mgmt-storage and azure-mgmt-resource: run \
         ./install.sh (it installs requirements-azure.txt into FaaSET's venv)",
        python.display()
    );
    python
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The contract-test control plane on a free loopback port, in a process group of its own (the
/// handlers it starts are in it too); stopped by [`ControlPlane::stop`] or on drop.
struct ControlPlane {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    log: PathBuf,
    /// tenant, client_id, client_secret, subscription, storage_key, api_versions.
    made: Value,
    _dir: tempfile::TempDir,
}

impl ControlPlane {
    fn start() -> ControlPlane {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        let made = dir.path().join("credentials.json");
        let mut child = Command::new(python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/azure_control_plane.py"))
            .arg(&log)
            .arg(&made)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .expect("start the control plane");
        let stdin = child.stdin.take();
        let (send, receive) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = send.send(line);
        });
        let line = receive
            .recv_timeout(Duration::from_secs(60))
            .expect("the control plane says where it listens within 60 s");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the control plane did not start: {line:?}"));
        let made = serde_json::from_slice(&std::fs::read(&made).unwrap()).unwrap();
        ControlPlane {
            child,
            stdin,
            port,
            log,
            made,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn made(&self, key: &str) -> String {
        self.made[key].as_str().unwrap().to_string()
    }

    fn entries(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// ARM requests (not tokens, not operation polls, not SCM).
    fn arm(&self) -> Vec<Value> {
        self.entries()
            .into_iter()
            .filter(|e| {
                e.get("method").is_some()
                    && e.get("token_request").is_none()
                    && e.get("operation").is_none()
                    && e.get("scm").is_none()
                    && e.get("invoke").is_none()
            })
            .collect()
    }

    fn puts_of(&self, suffix: &str) -> Vec<Value> {
        self.arm()
            .into_iter()
            .filter(|r| r["method"] == "PUT" && r["path"].as_str().unwrap().ends_with(suffix))
            .collect()
    }

    fn invokes(&self) -> Vec<Value> {
        self.entries()
            .into_iter()
            .filter(|e| e.get("invoke").is_some())
            .collect()
    }

    fn started(&self) -> Vec<i32> {
        self.entries()
            .iter()
            .filter_map(|e| e["started"].as_i64())
            .map(|p| p as i32)
            .collect()
    }

    fn stop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

const SOURCE: &str = r#"
fn hello_az(request: Value, context: Context) -> Result<Value, String> {
    if let Some(message) = request["fail"].as_str() {
        return Err(message.to_string());
    }
    let mut inspector = Inspector::new();
    inspector.inspect_container();
    inspector.inspect_platform();
    inspector.add_attribute("message", format!("Hello {}!", request["name"].as_str().unwrap_or("World")));
    inspector.add_attribute("requestId", context.request_id.clone());
    inspector.add_attribute("function", context.function_name.clone());
    inspector.add_attribute("greeting", std::env::var("GREETING").unwrap_or_default());
    Ok(inspector.finish())
}
"#;

type Vars = Vec<(&'static str, String)>;

/// The environment that points FaaSET at the loopback plane, with the plane's service
/// principal (the SDKs' variables).
fn azure_env(plane: &ControlPlane) -> Vars {
    vec![
        ("AZURE_TENANT_ID", plane.made("tenant")),
        ("AZURE_CLIENT_ID", plane.made("client_id")),
        ("AZURE_CLIENT_SECRET", plane.made("client_secret")),
        ("AZURE_SUBSCRIPTION_ID", String::new()),
        ("AZURE_AUTHORITY_HOST", plane.url()),
        ("FAASET_AZURE_ARM_ENDPOINT", plane.url()),
    ]
}

/// `faaset ARGS` with `env`; no secret (client secret, token, storage key, function key) is in
/// what it printed.
fn run(ws: &TempWorkspace, plane: &ControlPlane, env: &[(&str, String)], args: &[&str]) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = ws.faaset_with_env(args, &env);
    for text in [run.stdout(), run.stderr()] {
        for secret in [
            plane.made("client_secret"),
            plane.made("storage_key"),
            "azure-test-token-".to_string(),
        ] {
            assert!(!text.contains(&secret), "a secret was shown: {text}");
        }
    }
    run
}

fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn no_violations(plane: &ControlPlane) {
    for entry in plane.entries() {
        assert!(
            entry.get("violation").is_none() && entry.get("failure").is_none(),
            "the control plane refused a request: {entry}"
        );
    }
}

/// What `faaset` names the function app: `_` → `-` and the subscription/resource-group hash.
fn app_name(plane: &ControlPlane) -> String {
    let config = json!({"subscription": plane.made("subscription")});
    let settings = faaset::platform::azure::settings::Settings::from_config(
        config.as_object().unwrap(),
        &NoEnv,
    )
    .unwrap();
    settings.app_name("hello_az").unwrap()
}

struct NoEnv;
impl faaset::platform::Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

#[test]
fn azure_lifecycle_against_a_contract_test_control_plane() {
    let mut plane = ControlPlane::start();
    let env = azure_env(&plane);
    let subscription = plane.made("subscription");
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function_on("hello_az", "azure", SOURCE);
    let fdir = ws.file("functions/hello_az");
    let with = |extra: &[(&'static str, String)]| {
        let mut e = env.clone();
        e.extend(extra.iter().cloned());
        e
    };
    let config = |extra: Value| {
        let mut c = json!({"subscription": subscription, "location": "eastus"});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };

    // Bad input: one line each, nothing built, sent or written.
    let before = ws.snapshot();
    let cases: Vec<(Vars, Value, &str)> = vec![
        (
            env.clone(),
            config(json!({"memory": 1024})),
            "memory 1024 MB is not a Flex Consumption instance size: use 512, 2048 or 4096",
        ),
        (
            env.clone(),
            json!({"location": "eastus"}),
            "config key \"subscription\" is required for platform azure",
        ),
        (
            with(&[
                ("AZURE_CLIENT_SECRET", String::new()),
                ("AZURE_CLIENT_ID", String::new()),
            ]),
            config(json!({})),
            "no Azure credentials: AZURE_CLIENT_ID, AZURE_CLIENT_SECRET are not set",
        ),
        (
            env.clone(),
            config(json!({"timeout": 300})),
            "timeout 300 s is more than an HTTP-triggered call may take on Azure (230 s",
        ),
        (
            env.clone(),
            json!({"subscription": subscription}),
            "config key \"location\" is required for platform azure: resource group faaset does \
             not exist yet",
        ),
        (
            with(&[("AZURE_CLIENT_SECRET", "not-the-secret".into())]),
            config(json!({})),
            "refused the service principal",
        ),
        (
            with(&[("FAASET_AZURE_ARM_ENDPOINT", "http://127.0.0.1:1".into())]),
            config(json!({})),
            "cannot reach Azure at http://127.0.0.1:1/subscriptions/",
        ),
    ];
    for (env, config, expected) in &cases {
        let refused = run(
            &ws,
            &plane,
            env,
            &["deploy", "hello_az", "--config", &config.to_string()],
        )
        .user_error(expected);
        assert_eq!(
            refused.stderr().trim().lines().count(),
            1,
            "one line: {}",
            refused.stderr()
        );
        assert!(
            ws.snapshot() == before,
            "a refused deploy ({expected}) wrote to the workspace"
        );
    }
    assert!(
        plane.arm().iter().all(|r| r["method"] == "GET"),
        "nothing was created"
    );

    // Deploy: build, resource group, storage, container, plan, app, OneDeploy, the check.
    let started = Instant::now();
    let deployed = run(
        &ws,
        &plane,
        &env,
        &[
            "deploy",
            "hello_az",
            "--config",
            &config(json!({})).to_string(),
        ],
    )
    .ok();
    eprintln!("deploy took {:.1} s", started.elapsed().as_secs_f64());
    let stderr = deployed.stderr();
    let app = app_name(&plane);
    for expected in [
        format!("Azure function app {app} (Flex Consumption) in resource group faaset"),
        "created resource group faaset in eastus".to_string(),
        "created storage account faaset".to_string(),
        "OneDeploy of ".to_string(),
        "ready at https://".to_string(),
    ] {
        assert!(stderr.contains(&expected), "{expected} in: {stderr}");
    }
    no_violations(&plane);
    let arm: Vec<String> = plane
        .arm()
        .iter()
        .map(|r| {
            let path = r["path"].as_str().unwrap();
            let tail: Vec<&str> = path.rsplit('/').take(2).collect();
            format!("{} {}/{}", r["method"].as_str().unwrap(), tail[1], tail[0])
        })
        .collect();
    let sa = format!(
        "storageAccounts/{}",
        plane
            .puts_of("")
            .iter()
            .find_map(|r| r["path"]
                .as_str()
                .unwrap()
                .split("storageAccounts/")
                .nth(1)
                .map(|s| s.split('/').next().unwrap().to_string()))
            .unwrap()
    );
    let deploy_calls: Vec<&str> = arm.iter().map(String::as_str).collect();
    let tail_of = |n: usize| deploy_calls[deploy_calls.len() - n..].to_vec();
    let expected: Vec<String> = vec![
        // preflight
        "GET resourcegroups/faaset".into(),
        // publish
        "GET resourcegroups/faaset".into(),
        "PUT resourcegroups/faaset".into(),
        format!("GET {sa}"),
        format!("PUT {sa}"),
        format!("POST {}/listKeys", sa.rsplit('/').next().unwrap()),
        format!("PUT containers/p-{app}"),
        format!("PUT serverfarms/{app}"),
        format!("PUT sites/{app}"),
        format!("GET sites/{app}"),
        format!("GET sites/{app}"),
        format!("GET {app}/functions"),
        "POST default/listkeys".into(),
    ];
    assert_eq!(tail_of(expected.len()), expected, "{arm:?}");

    // The package: the documented layout, read by Python's zipfile; bootstrap 0755.
    let zip = fdir.join("azure/.build/package.zip");
    let checked = Command::new(python())
        .arg("-c")
        .arg(
            "import json, sys, zipfile\n\
             z = zipfile.ZipFile(sys.argv[1])\n\
             out = {'names': z.namelist()}\n\
             for i in z.infolist():\n\
             \x20   out[i.filename] = {'mode': oct(i.external_attr >> 16), 'system': i.create_system, 'compress': i.compress_type}\n\
             out['host'] = json.loads(z.read('host.json'))\n\
             out['function'] = json.loads(z.read('hello_az/function.json'))\n\
             z.extractall(sys.argv[2])\n\
             print(json.dumps(out))\n",
        )
        .arg(&zip)
        .arg(ws.file(".unzipped"))
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let listing: Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(
        listing["names"],
        json!(["host.json", "hello_az/function.json", "bootstrap"])
    );
    assert_eq!(listing["bootstrap"]["mode"], "0o100755", "{listing}");
    assert_eq!(
        listing["bootstrap"]["system"], 3,
        "Unix attributes: {listing}"
    );
    assert_eq!(listing["bootstrap"]["compress"], 8, "deflated: {listing}");
    let handler = &listing["host"]["customHandler"];
    assert_eq!(listing["host"]["version"], "2.0");
    assert_eq!(handler["description"]["defaultExecutablePath"], "bootstrap");
    assert_eq!(handler["enableProxyingHttpRequest"], true);
    let trigger = &listing["function"]["bindings"][0];
    assert_eq!(
        (&trigger["type"], &trigger["authLevel"]),
        (&json!("httpTrigger"), &json!("function"))
    );
    let unzipped = ws.file(".unzipped/bootstrap");
    assert_eq!(
        std::fs::read(&unzipped).unwrap(),
        std::fs::read(fdir.join("azure/.build/bootstrap")).unwrap(),
        "the zip holds the built binary"
    );
    let uploaded = plane
        .entries()
        .into_iter()
        .find(|e| e.get("scm").is_some() && e["path"] == "/api/publish")
        .unwrap();
    assert_eq!(uploaded["executable_mode"], "0o755", "{uploaded}");
    assert_eq!(uploaded["functions"], json!(["hello_az"]));
    // The binary from the zip, run under the custom handler contract.
    let root = ws.file(".unzipped");
    std::fs::set_permissions(
        &unzipped,
        std::os::unix::fs::PermissionsExt::from_mode(
            u32::from_str_radix(
                listing["bootstrap"]["mode"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("0o"),
                8,
            )
            .unwrap()
                & 0o777,
        ),
    )
    .unwrap();
    contract_run(&root);
    std::fs::remove_dir_all(&root).unwrap();

    // The publish check called the handler with GET (no function call): listed and loaded.
    let checks: Vec<Value> = plane
        .invokes()
        .into_iter()
        .filter(|i| i["method"] == "GET")
        .collect();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0]["status"], 200);

    // Invoke: the function key, the real binary behind the host; cold (the first call of the
    // process), then warm.
    let cold = run(
        &ws,
        &plane,
        &env,
        &["invoke", "hello_az", r#"{"name": "Az"}"#],
    )
    .ok()
    .json();
    assert_eq!(cold["message"], "Hello Az!", "{cold}");
    assert_eq!(cold["platform"], "Azure Functions", "SAAF: {cold}");
    assert_eq!(cold["functionName"], app.as_str(), "the app: {cold}");
    assert_eq!(cold["functionRegion"], "East US", "{cold}");
    assert_eq!(cold["functionMemory"], 2048, "{cold}");
    assert_eq!(cold["function"], "hello_az", "{cold}");
    assert_eq!(cold["coldStart"], true, "{cold}");
    assert!(cold["roundTripTime"].as_f64().is_some(), "{cold}");
    let last = plane.invokes().pop().unwrap();
    assert_eq!(cold["requestId"], last["invocation"], "{last}");
    assert_eq!(
        last["instance"], checks[0]["instance"],
        "the checked instance"
    );
    let warm = run(&ws, &plane, &env, &["invoke", "hello_az", "{}"])
        .ok()
        .json();
    assert_eq!(warm["coldStart"], false, "{warm}");
    assert_eq!(warm["uuid"], cold["uuid"]);

    // A function error is a failed call with the function's message.
    run(
        &ws,
        &plane,
        &env,
        &["invoke", "hello_az", r#"{"fail": "no such city"}"#],
    )
    .user_error("no such city");

    // Reconfigure memory: the app PUT with the new scaleAndConcurrency only; no build, no
    // upload; new instances.
    let build_log = fdir.join("azure/logs/build.log");
    let log_before = std::fs::read(&build_log).unwrap();
    let uploads = |plane: &ControlPlane| {
        plane
            .entries()
            .iter()
            .filter(|e| e.get("scm").is_some() && e["path"] == "/api/publish")
            .count()
    };
    let sites_before = plane.puts_of(&format!("sites/{app}"));
    run(
        &ws,
        &plane,
        &env,
        &["reconfigure", "hello_az", r#"{"memory": 4096}"#],
    )
    .ok();
    assert_eq!(std::fs::read(&build_log).unwrap(), log_before, "no build");
    assert_eq!(uploads(&plane), 1, "no upload");
    let sites = plane.puts_of(&format!("sites/{app}"));
    assert_eq!(sites.len(), sites_before.len() + 1);
    let (old, new) = (
        &sites_before.last().unwrap()["body"],
        &sites.last().unwrap()["body"],
    );
    let scale = "/properties/functionAppConfig/scaleAndConcurrency";
    assert_eq!(new.pointer(scale).unwrap()["instanceMemoryMB"], 4096);
    let without_scale = |v: &Value| {
        let mut v = v.clone();
        v.pointer_mut("/properties/functionAppConfig")
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("scaleAndConcurrency");
        // FAASET_MEMORY_MB follows the memory (SAAF reports it).
        for s in v
            .pointer_mut("/properties/siteConfig/appSettings")
            .unwrap()
            .as_array_mut()
            .unwrap()
        {
            if s["name"] == "FAASET_MEMORY_MB" {
                s["value"] = "x".into();
            }
        }
        v
    };
    assert_eq!(
        without_scale(old),
        without_scale(new),
        "only scaleAndConcurrency (and the memory variable) changed"
    );
    let at_4096 = run(&ws, &plane, &env, &["invoke", "hello_az", "{}"])
        .ok()
        .json();
    assert_eq!(at_4096["functionMemory"], 4096, "{at_4096}");
    assert_eq!(at_4096["coldStart"], true, "a new instance: {at_4096}");

    // Reconfigure env and timeout: app settings only.
    let sites_count = plane.puts_of(&format!("sites/{app}")).len();
    run(
        &ws,
        &plane,
        &env,
        &[
            "reconfigure",
            "hello_az",
            r#"{"env": {"GREETING": "hi"}, "timeout": 60}"#,
        ],
    )
    .ok();
    assert_eq!(plane.puts_of(&format!("sites/{app}")).len(), sites_count);
    let settings = plane.puts_of("config/appsettings").pop().unwrap();
    assert_eq!(settings["body"]["properties"]["GREETING"], "hi");
    assert_eq!(
        settings["body"]["properties"]["AzureFunctionsJobHost__functionTimeout"],
        "00:01:00"
    );
    let greeted = run(&ws, &plane, &env, &["invoke", "hello_az", "{}"])
        .ok()
        .json();
    assert_eq!(greeted["greeting"], "hi", "{greeted}");

    // An experiment: a row per call, coldStart from SAAF.
    run(
        &ws,
        &plane,
        &env,
        &[
            "experiment",
            "hello_az",
            "--threads",
            "2",
            "--runs-per-thread",
            "3",
            "--payloads",
            r#"[{"name": "a"}, {"name": "b"}]"#,
            "--experiment-name",
            "e1",
        ],
    )
    .ok();
    let rows = read_csv(&fdir.join("experiments/e1/results.csv"));
    assert_eq!(rows.len(), 6);
    for row in &rows {
        assert_eq!(row["error"], "", "{row:?}");
        assert_eq!(row["platform"], "azure");
        assert_eq!(row["response.platform"], "Azure Functions", "{row:?}");
        assert!(
            ["true", "false"].contains(&row["coldStart"].as_str()),
            "{row:?}"
        );
    }

    // A sweep: configuration-only PUTs per setting, Flex's price, the memory put back.
    let swept = run(
        &ws,
        &plane,
        &env,
        &[
            "sweep",
            "hello_az",
            "--memory",
            "512,2048",
            "--threads",
            "1",
            "--runs-per-thread",
            "2",
            "--experiment-name",
            "sw",
        ],
    )
    .ok();
    assert!(
        swept
            .stdout()
            .contains("Azure Functions Flex Consumption on-demand list price"),
        "{}",
        swept.stdout()
    );
    assert_eq!(uploads(&plane), 1, "a sweep uploads nothing");
    let rows = read_csv(&fdir.join("experiments/sw/results.csv"));
    let memories: Vec<&str> = rows.iter().map(|r| r["functionMemory"].as_str()).collect();
    assert_eq!(memories, ["512", "512", "2048", "2048"], "{rows:?}");
    let sites = plane.puts_of(&format!("sites/{app}"));
    let sizes: Vec<&Value> = sites[sites.len() - 3..]
        .iter()
        .map(|p| &p["body"].pointer(scale).unwrap()["instanceMemoryMB"])
        .collect();
    assert_eq!(sizes, [&json!(512), &json!(2048), &json!(4096)], "restored");
    no_violations(&plane);

    // Microsoft's SDKs send the same requests for the same operations.
    compare_with_sdks(&plane, &app);

    // No secret in the workspace: not the client secret, a token or the storage key.
    for (path, bytes) in ws.snapshot() {
        let text = String::from_utf8_lossy(&bytes);
        for secret in [
            plane.made("client_secret"),
            plane.made("storage_key"),
            "azure-test-token-".to_string(),
            "AccountKey=".to_string(),
        ] {
            assert!(
                !text.contains(&secret),
                "{} holds a secret ({secret})",
                path.display()
            );
        }
    }

    // Stopping the control plane stops every handler it started.
    let started = plane.started();
    assert!(started.len() >= 3, "{started:?}");
    plane.stop();
    std::thread::sleep(Duration::from_millis(200));
    for pid in started {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "handler {pid} outlived the control plane"
        );
    }
}

/// The unzipped `bootstrap` under the custom handler contract as the host drives it
/// (`DefaultHttpWorkerService`): a random port in `FUNCTIONS_CUSTOMHANDLER_PORT`, cwd = the app
/// root, readiness by polling `GET /`, then the caller's POST at `/api/<fn>` with the host's
/// headers: the function's JSON, SAAF saying Azure Functions. A contract test, not a host.
fn contract_run(root: &Path) {
    let port = free_port();
    let mut child = Handler(
        Command::new(root.join("bootstrap"))
            .current_dir(root)
            .env_clear()
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("WEBSITE_SITE_NAME", "contract-app")
            .env("REGION_NAME", "West Europe")
            .env("FAASET_MEMORY_MB", "512")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run the unzipped bootstrap"),
    );
    let request = |method: &str, path: &str, headers: &str, body: &str| -> Option<(u16, String)> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}Content-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let status = response.split(' ').nth(1)?.parse().ok()?;
        Some((status, response.split("\r\n\r\n").nth(1)?.to_string()))
    };
    // Readiness: any answer to GET / (the host's 30 s InitializationTimeout).
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        if let Some(answer) = request("GET", "/", "", "") {
            break answer;
        }
        assert!(
            Instant::now() < deadline,
            "the handler did not answer GET / on FUNCTIONS_CUSTOMHANDLER_PORT"
        );
        assert!(child.0.try_wait().unwrap().is_none(), "the handler exited");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(ready.0, 200, "{ready:?}");
    let invocation = "3f2c1b0a-9d8e-4f7a-b6c5-d4e3f2a1b0c9";
    let (status, body) = request(
        "POST",
        "/api/hello_az",
        &format!(
            "Content-Type: application/json\r\nX-Azure-Functions-InvocationId: {invocation}\r\n\
             X-Azure-Functions-HostVersion: 4.1040.300.0\r\nUser-Agent: \
             Azure-Functions-Host/4.1040.300.0\r\n"
        ),
        r#"{"name": "contract"}"#,
    )
    .expect("an answer to the proxied call");
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["message"], "Hello contract!", "{answer}");
    assert_eq!(answer["platform"], "Azure Functions", "{answer}");
    assert_eq!(answer["functionName"], "contract-app", "{answer}");
    assert_eq!(answer["functionRegion"], "West Europe", "{answer}");
    assert_eq!(answer["requestId"], invocation, "{answer}");
    assert_eq!(answer["function"], "hello_az", "{answer}");
    assert_eq!(answer["newcontainer"], 1);
}

/// A handler `contract_run` started: killed on drop, so a failed assertion leaves nothing.
struct Handler(Child);

impl Drop for Handler {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Microsoft's SDKs against their own loopback recorder, for the operations FaaSET made: each
/// of their requests has a FaaSET request of the same method and path, with the same query
/// and the same body. FaaSET's last function app PUT and app settings PUT are the ones
/// compared (the app as reconfigured: 4096 MB).
fn compare_with_sdks(plane: &ControlPlane, app: &str) {
    let faaset = plane.arm();
    let last = |suffix: &str| plane.puts_of(suffix).pop().unwrap();
    let site = last(&format!("sites/{app}"));
    let settings = last("config/appsettings");
    let pairs = |list: &Value| -> Value {
        list.as_array()
            .unwrap()
            .iter()
            .map(|s| json!([s["name"], s["value"]]))
            .collect()
    };
    let storage = site["body"]
        .pointer("/properties/functionAppConfig/deployment/storage/value")
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let account = storage
        .strip_prefix("https://")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_string();
    let spec = json!({
        "subscription": plane.made("subscription"),
        "resource_group": "faaset",
        "location": "eastus",
        "storage_account": account,
        "container": format!("p-{app}"),
        "container_url": storage,
        "app": app,
        "memory": 4096,
        "max_instances": 100,
        "concurrency": 1,
        "runtime_version": "1.0",
        "app_settings": pairs(site["body"].pointer("/properties/siteConfig/appSettings").unwrap()),
        "app_settings_update": settings["body"]["properties"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| json!([k, v]))
            .collect::<Vec<_>>(),
    });
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let out = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/azure_sdk_client.py"))
        .arg(&spec_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sdk: Value = serde_json::from_slice(&out.stdout).unwrap();
    let requests = sdk["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 13, "{requests:?}");
    for theirs in requests {
        let op = theirs["op"].as_str().unwrap();
        let ours = faaset
            .iter()
            .rfind(|r| r["method"] == theirs["method"] && r["path"] == theirs["path"])
            .unwrap_or_else(|| {
                panic!(
                    "{op}: FaaSET sent no {} {}",
                    theirs["method"], theirs["path"]
                )
            });
        assert_eq!(ours["query"], theirs["query"], "{op}: the query");
        assert_eq!(ours["body"], theirs["body"], "{op}: the body");
        if !theirs["body"].is_null() {
            assert_eq!(theirs["content_type"], "application/json", "{op}");
        }
    }
    // The app settings PUT compared is FaaSET's last, built from its own values.
    assert_eq!(
        settings["body"]["properties"]["GREETING"], "hi",
        "{settings}"
    );
}

/// Against Azure, only when asked for: `FAASET_AZURE_LIVE=1`, a service principal in
/// `AZURE_TENANT_ID`/`AZURE_CLIENT_ID`/`AZURE_CLIENT_SECRET`, and `FAASET_AZURE_CONFIG` holding
/// at least `{"subscription": "...", "location": "..."}` (or `AZURE_SUBSCRIPTION_ID`). Deploys,
/// calls, reconfigures memory, runs a 2×3 experiment, then deletes the function app and its
/// plan (the resource group and storage account are kept: FaaSET's other functions use them).
#[test]
fn azure_live_deployment_when_asked_for() {
    if std::env::var("FAASET_AZURE_LIVE").as_deref() != Ok("1") {
        eprintln!(
            "skipped: set FAASET_AZURE_LIVE=1, AZURE_TENANT_ID, AZURE_CLIENT_ID, \
             AZURE_CLIENT_SECRET and FAASET_AZURE_CONFIG='{{\"subscription\": \"...\", \
             \"location\": \"eastus\"}}' to test on Azure"
        );
        return;
    }
    let config: Value = std::env::var("FAASET_AZURE_CONFIG")
        .ok()
        .map(|c| serde_json::from_str(&c).expect("FAASET_AZURE_CONFIG is a JSON object"))
        .unwrap_or_else(|| json!({}));
    let ws = TempWorkspace::with_functions(&[]);
    let name = "faaset_live_test";
    ws.add_function_on(name, "azure", &SOURCE.replace("hello_az", name));
    let fdir = ws.file(&format!("functions/{name}"));
    ws.faaset(&["deploy", name, "--config", &config.to_string()])
        .ok();
    let first = ws
        .faaset(&["invoke", name, r#"{"name": "live"}"#])
        .ok()
        .json();
    assert_eq!(first["message"], "Hello live!", "{first}");
    assert_eq!(first["platform"], "Azure Functions", "{first}");
    ws.faaset(&["reconfigure", name, r#"{"memory": 4096}"#])
        .ok();
    let second = ws.faaset(&["invoke", name, "{}"]).ok().json();
    assert_eq!(second["functionMemory"], 4096, "{second}");
    ws.faaset(&[
        "experiment",
        name,
        "--threads",
        "2",
        "--runs-per-thread",
        "3",
        "--experiment-name",
        "live",
    ])
    .ok();
    let rows = read_csv(&fdir.join("experiments/live/results.csv"));
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r["error"].is_empty()), "{rows:?}");

    // Clean up: delete the app and its plan (FaaSET has no delete verb yet).
    let settings = faaset::platform::azure::settings::Settings::from_config(
        config.as_object().unwrap(),
        &faaset::platform::ProcessEnv,
    )
    .unwrap();
    let app = settings.app_name(name).unwrap();
    let statuses = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let api = faaset::platform::azure::arm::Api::connect(&faaset::platform::ProcessEnv)
            .await
            .unwrap();
        let mut statuses = Vec::new();
        for path in [settings.site_path(&app), settings.plan_path(&app)] {
            let url = format!(
                "{}{path}?api-version={}",
                api.endpoint,
                faaset::platform::azure::arm::WEB_API
            );
            statuses.push(
                api.http
                    .delete(&url)
                    .bearer_auth(api.token.expose())
                    .send()
                    .await
                    .map(|r| r.status()),
            );
        }
        statuses
    });
    assert!(
        statuses
            .iter()
            .all(|s| s.as_ref().is_ok_and(|s| s.is_success())),
        "deleting the app and plan: {statuses:?}"
    );
}
