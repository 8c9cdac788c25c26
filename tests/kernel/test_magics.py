"""Every magic of DESIGN §1.1 through the real kernel, the core and the local platform —
and bad magics answered with a clear error while the kernel stays alive."""

import json
import pathlib

import pytest

from conftest import interrupt_when, of_type, result_text, text

HELLO = """%%cloud_function local {"memory": 256}
fn hello_world(request: Value, _context: Context) -> Value {
    let mut inspector = Inspector::new();
    inspector.inspect_cpu_info();
    let name = request["name"].as_str().unwrap_or("World");
    inspector.add_attribute("message", format!("Hello {name}!"));
    inspector.finish()
}
"""


@pytest.fixture(scope="module")
def hello(kernel):
    outputs = kernel.ok(HELLO, timeout=600)
    assert "hello_world: built and published on local" in text(outputs)
    # cargo's output is one live line of the step, not a red block of stderr.
    errors = [c["text"] for c in of_type(outputs, "stream") if c["name"] == "stderr"]
    assert not any("Compiling" in e for e in errors), errors
    assert build_lines(outputs), text(outputs)
    assert "of output in" in build_lines(outputs)[-1], build_lines(outputs)
    return kernel


def build_lines(outputs):
    """What the build's live line said, in order."""
    return [
        c["data"]["text/plain"]
        for c in of_type(outputs, "display_data") + of_type(outputs, "update_display_data")
        if c.get("transient", {}).get("display_id", "").startswith("faaset-build-")
    ]


def test_a_build_that_fails_shows_the_end_of_its_log(kernel):
    reply, outputs = kernel.fails(
        "%%cloud_function local\n"
        "fn broken_build(request: Value, _context: Context) -> Value {\n"
        "    let n: u32 = \"not a number\";\n"
        "    request\n"
        "}\n",
        timeout=600,
    )
    assert "broken_build" in reply["evalue"], reply
    errors = "".join(c["text"] for c in of_type(outputs, "stream") if c["name"] == "stderr")
    assert "build.log (last" in errors and "mismatched types" in errors, errors


def test_cloud_function_saves_deploys_and_defines_a_stub(hello):
    source = hello.workspace / "functions" / "hello_world" / "src" / "function.rs"
    assert "fn hello_world" in source.read_text()
    state = json.loads((hello.workspace / "functions" / "hello_world" / "FAASET.json").read_text())
    assert state["deployed"]["local"]["config"]["memory"] == 256
    outputs = hello.ok('let r = hello_world(json!({"name": "Steve"}));\nr["message"].clone()')
    assert result_text(outputs) == '"Hello Steve!"'
    outputs = hello.ok('r["roundTripTime"].as_f64().unwrap() > 0.0 && r["cpuType"].is_string()')
    assert result_text(outputs) == "true"
    # Running the unchanged cell again deploys nothing.
    outputs = hello.ok(HELLO)
    assert "up to date" in text(outputs)


def test_a_stub_call_deploys_a_changed_function_first(hello):
    source = hello.workspace / "functions" / "hello_world" / "src" / "function.rs"
    original = source.read_text()
    source.write_text(original.replace("Hello {name}!", "Hi {name}!"))
    try:
        outputs = hello.ok('hello_world(json!({"name": "Ann"}))["message"].clone()', timeout=600)
        assert result_text(outputs) == '"Hi Ann!"'
        assert "built and published" in text(outputs)
    finally:
        source.write_text(original)
        hello.ok("%faaset deploy hello_world", timeout=600)


def test_invoke_shows_the_response(hello):
    outputs = hello.ok('%faaset invoke hello_world {"name": "Bob"}')
    shown = of_type(outputs, "display_data")
    assert shown and shown[-1]["data"]["application/json"]["message"] == "Hello Bob!"


def test_the_bridge_token_stays_out_of_environments_and_survives_an_interrupt(hello):
    """D23: the kernel's children (cargo, build scripts, the session) inherit only the path of
    an owner-only file holding the bridge token, never the token."""
    files = list((hello.workspace / ".faaset" / "kernel").glob("bridge-*.token"))
    assert len(files) == 1, files
    assert files[0].stat().st_mode & 0o777 == 0o600
    token = files[0].read_text()
    assert len(token) >= 32
    pid = int(files[0].name[len("bridge-"):-len(".token")])
    assert token.encode() not in pathlib.Path(f"/proc/{pid}/environ").read_bytes()
    outputs = hello.ok(
        'std::env::vars().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")'
    )
    assert "FAASET_KERNEL_TOKEN_FILE" in text(outputs) and token not in text(outputs)
    # evcxr restarts the session after an interrupt; it finds the token again.
    marker = hello.workspace / "looping"
    interrupter = interrupt_when(hello, marker.exists)
    reply, _ = hello.fails(
        f'std::fs::write({json.dumps(str(marker))}, "").unwrap();\n'
        "loop { std::thread::sleep(std::time::Duration::from_millis(50)); }"
    )
    interrupter.join()
    assert reply["ename"] == "Interrupted", reply
    outputs = hello.ok('hello_world(json!({"name": "Zoe"}))["message"].clone()')
    assert result_text(outputs) == '"Hello Zoe!"'


def test_a_payload_of_several_megabytes_goes_through_the_bridge(hello):
    """D17: the bridge takes what a function takes (Lambda's 6 MB), not axum's 2 MB default."""
    outputs = hello.ok('hello_world(json!({"name": "x".repeat(3_000_000)}))["message"].as_str().unwrap().len()')
    assert result_text(outputs) == str(len("Hello !") + 3_000_000)


def test_reconfigure_publishes_without_rebuilding(hello):
    outputs = hello.ok('%faaset reconfigure hello_world {"memory": 512}')
    assert "configuration only" in text(outputs) or "publishing configuration" in text(outputs)
    assert "built" not in text(outputs)
    outputs = hello.ok("%faaset list")
    html = of_type(outputs, "display_data")[-1]["data"]["text/html"]
    assert "<table" in html and "local (512 MB)" in html
    outputs = hello.ok('hello_world(json!({}))["memorySize"].clone()')
    assert result_text(outputs) == "512"


def test_experiment_load_stats_plot_and_ttest(hello):
    outputs = hello.ok(
        '%faaset experiment hello_world threads=2 runs_per_thread=3 '
        'payloads=[{"name": "Bob"}, {"name": "Steve"}] experiment_name=e1 shuffle_payloads=true'
    )
    # A live progress bar: one display, updated in place.
    bars = of_type(outputs, "display_data")
    updates = of_type(outputs, "update_display_data")
    assert bars and updates
    display_id = bars[0]["transient"]["display_id"]
    assert all(u["transient"]["display_id"] == display_id for u in updates)
    assert "6/6 calls" in updates[-1]["data"]["text/plain"]
    assert "experiment e1 of hello_world on local: 6 calls, 0 errors" in text(outputs)
    rows = (hello.workspace / "functions/hello_world/experiments/e1/results.csv").read_text()
    assert len(rows.strip().splitlines()) == 7

    outputs = hello.ok("%faaset load hello_world e1 as e1_rows\ne1_rows.len()")
    assert result_text(outputs) == "6"
    html = of_type(outputs, "display_data")[0]["data"]["text/html"]
    assert "<table" in html and "roundTripTime" in html
    outputs = hello.ok('e1_rows.numbers("runtime").iter().all(|r| *r >= 0.0)')
    assert result_text(outputs) == "true"

    outputs = hello.ok("%faaset stats hello_world e1 metric=roundTripTime")
    data = of_type(outputs, "display_data")[-1]["data"]
    assert "<table" in data["text/html"] and "median" in data["text/plain"]

    outputs = hello.ok("%faaset plot hello_world e1 kind=box")
    data = of_type(outputs, "display_data")[-1]["data"]
    assert data["image/svg+xml"].lstrip().startswith("<svg")
    assert data["image/png"].startswith("iVBORw0KGgo")  # base64 of the PNG signature

    hello.ok("%faaset experiment hello_world threads=1 runs_per_thread=6 experiment_name=e2")
    outputs = hello.ok("%faaset ttest hello_world/e1 hello_world/e2 metric=roundTripTime")
    data = of_type(outputs, "display_data")[-1]["data"]
    assert "Welch's t-test" in data["text/plain"] and "<table" in data["text/html"]


def test_load_gives_a_typed_polars_dataframe(hello):
    if not (hello.workspace / "functions/hello_world/experiments/e1/results.csv").is_file():
        hello.ok('%faaset experiment hello_world threads=2 runs_per_thread=3 experiment_name=e1')
    # install.sh's warm-up compiled polars into evcxr's cache: seconds here, not minutes.
    outputs = hello.ok("%faaset load hello_world e1 as df polars=true\ndf.height()", timeout=1200)
    assert result_text(outputs) == "6"
    outputs = hello.ok(
        'format!("{} {}", df.column("roundTripTime").unwrap().dtype(), df.column("function").unwrap().dtype())'
    )
    assert result_text(outputs) == '"f64 str"', result_text(outputs)

def test_sweep_restores_memory_and_charts(hello):
    outputs = hello.ok("%faaset sweep hello_world memory=128,256 runs_per_thread=2", timeout=600)
    shown = of_type(outputs, "display_data")
    plain = "\n".join(d["data"].get("text/plain", "") for d in shown)
    assert "128 MB" in plain and "256 MB" in plain and "best for cost" in plain
    assert any("image/svg+xml" in d["data"] for d in shown)
    state = json.loads((hello.workspace / "functions/hello_world/FAASET.json").read_text())
    assert state["deployed"]["local"]["config"]["memory"] == 512


def test_an_interrupted_sweep_puts_the_memory_back_before_the_cell_ends(hello):
    """The sweep watches the cell's interrupt itself: its calls stop, the memory is restored,
    and only then does the cell end (as Interrupted), keeping the rows written so far."""
    before = json.loads((hello.workspace / "functions/hello_world/FAASET.json").read_text())
    memory = before["deployed"]["local"]["config"]["memory"]
    csv = hello.workspace / "functions/hello_world/experiments/stopped/results.csv"
    # Interrupted once calls were made (rows written), however slowly the sweep started.
    interrupter = interrupt_when(
        hello, lambda: csv.exists() and len(csv.read_text().splitlines()) > 2
    )
    reply, outputs = hello.fails(
        "%faaset sweep hello_world memory=128,256 runs_per_thread=100000 experiment_name=stopped",
        timeout=600,
    )
    interrupter.join()
    assert reply["ename"] == "Interrupted", reply
    assert "memory setting was restored" in reply["evalue"], reply
    state = json.loads((hello.workspace / "functions/hello_world/FAASET.json").read_text())
    assert state["deployed"]["local"]["config"]["memory"] == memory
    rows = (hello.workspace / "functions/hello_world/experiments/stopped/results.csv").read_text()
    assert len(rows.splitlines()) > 1, "the rows of the calls made are kept"
    # The function can be changed again: the sweep's lock went with it.
    hello.ok('%faaset reconfigure hello_world {"memory": ' + str(memory) + "}")


def test_help_and_deploy(hello):
    outputs = hello.ok("%faaset help experiment")
    assert "runs_per_thread" in text(outputs)
    outputs = hello.ok("%faaset deploy hello_world force=true", timeout=600)
    assert "built and published" in text(outputs)


@pytest.mark.parametrize(
    "cell, message",
    [
        ("%faaset frobnicate hello_world", 'unknown %faaset verb "frobnicate"'),
        ("%faaset invoke hello_world {not json}", "not valid JSON"),
        ("%faaset reconfigure hello_world {\"memory\": }", "not valid JSON"),
        ("%faaset invoke no_such_function", "no_such_function"),
        ("%faaset invoke Bad-Name", "Bad-Name"),
        ("%%cloud_function local --name Bad-Name\nfn f(r: Value, c: Context) -> Value { r }", "Bad-Name"),
        ("%faaset experiment hello_world threads=2", "experiment_name="),
        ("%faaset reconfigure hello_world {\"memory\": \"lots\"}", "memory"),
        ("%timeit 1 + 1", "unknown magic %timeit"),
    ],
)
def test_bad_magics_say_what_to_fix_and_the_kernel_lives(kernel, cell, message):
    reply, outputs = kernel.fails(cell)
    assert message in reply["evalue"], reply["evalue"]
    assert of_type(outputs, "error")
    assert result_text(kernel.ok("2 + 3")) == "5"


def test_a_failing_function_is_an_error_in_the_calling_cell(kernel):
    kernel.ok(
        "%%cloud_function local\n"
        "fn always_fails(_request: Value, _context: Context) -> Result<Value, String> {\n"
        '    Err("the database is down".to_string())\n'
        "}\n",
        timeout=600,
    )
    reply, _ = kernel.fails("always_fails(json!({}))")
    assert "the database is down" in reply["evalue"], reply
    assert result_text(kernel.ok("1")) == "1"


def test_no_deploy_saves_only_and_the_first_call_deploys(kernel):
    outputs = kernel.ok(
        "%%cloud_function local --no-deploy\n"
        "fn saved_only(_request: Value, _context: Context) -> Value {\n"
        '    json!({"ok": true})\n'
        "}\n"
    )
    assert "not deployed: --no-deploy" in text(outputs)
    state = json.loads((kernel.workspace / "functions/saved_only/FAASET.json").read_text())
    assert not state.get("deployed"), state
    outputs = kernel.ok('saved_only(json!({}))["ok"].clone()', timeout=600)
    assert result_text(outputs) == "true"
    assert "built and published" in text(outputs)
