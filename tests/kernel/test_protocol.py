"""The kernel as a Rust kernel: cells, errors with positions, panics, interrupts,
is_complete and completion — over the real Jupyter protocol."""

import json

from conftest import interrupt_when, of_type, text


def test_kernel_info_says_rust(kernel):
    reply = kernel.reply(kernel.client.kernel_info())
    content = reply["content"]
    assert content["status"] == "ok"
    assert content["language_info"]["name"] == "rust"
    assert content["protocol_version"] == "5.3"


def test_a_rust_cell_prints_and_returns_a_value(kernel):
    outputs = kernel.ok('let x = 40;\nprintln!("hello from rust");\nx + 2')
    streams = "".join(c["text"] for c in of_type(outputs, "stream"))
    assert "hello from rust" in streams
    results = of_type(outputs, "execute_result")
    assert results and results[-1]["data"]["text/plain"] == "42"
    # Variables live on in the session.
    outputs = kernel.ok("x * 2")
    assert of_type(outputs, "execute_result")[-1]["data"]["text/plain"] == "80"


def test_a_compile_error_names_its_line_and_column(kernel):
    reply, outputs = kernel.fails("let a = 1;\nlet b = undefined_thing + a;")
    assert reply["ename"] == "CompileError"
    assert "line 2, column 9" in reply["evalue"], reply
    errors = of_type(outputs, "error")
    assert errors, "an error output"
    traceback = "\n".join(errors[0]["traceback"])
    assert "undefined_thing" in traceback and "^" in traceback


def test_a_panic_is_an_error_and_the_kernel_lives_on(kernel):
    reply, _ = kernel.fails('let n = 7;\npanic!("boom {}", n);')
    assert reply["ename"] == "Panic"
    assert "boom 7" in reply["evalue"]
    outputs = kernel.ok("1 + 1")
    assert of_type(outputs, "execute_result")[-1]["data"]["text/plain"] == "2"


def test_interrupt_ends_a_long_cell_and_the_session_survives(kernel):
    kernel.ok("let kept_fn_check = 3;\nfn still_here() -> i32 { 11 }")
    marker = kernel.workspace / "looping"
    interrupter = interrupt_when(kernel, marker.exists)
    reply, _ = kernel.fails(
        f'std::fs::write({json.dumps(str(marker))}, "").unwrap();\n'
        "loop { std::thread::sleep(std::time::Duration::from_millis(100)); }",
        timeout=600,
    )
    interrupter.join()
    assert reply["ename"] == "Interrupted", reply
    # Functions survive the restart of the session process; variables do not.
    outputs = kernel.ok("still_here()")
    assert of_type(outputs, "execute_result")[-1]["data"]["text/plain"] == "11"


def is_complete(kernel, code):
    return kernel.reply(kernel.client.is_complete(code))["content"]


def test_is_complete_knows_open_braces(kernel):
    assert is_complete(kernel, "let x = 1;")["status"] == "complete"
    incomplete = is_complete(kernel, "fn f() {\n    let x = 1;")
    assert incomplete["status"] == "incomplete" and incomplete["indent"] == "    "
    assert is_complete(kernel, 'let s = "open')["status"] == "incomplete"
    assert is_complete(kernel, "let x = 1; }")["status"] == "invalid"


def complete(kernel, code, cursor=None):
    msg_id = kernel.client.complete(code, cursor if cursor is not None else len(code))
    return kernel.reply(msg_id)["content"]


def test_completion_from_the_session_and_of_magics(kernel):
    kernel.ok("let abcdef_value = 1;")
    reply = complete(kernel, "abcdef_v")
    assert reply["status"] == "ok"
    assert "abcdef_value" in reply["matches"], reply
    reply = complete(kernel, "%faaset inv")
    assert reply["matches"] == ["invoke"]
    assert reply["cursor_start"] == len("%faaset ")


def test_the_bridge_is_loopback_only_and_refuses_a_wrong_token(kernel):
    """Stubs reach the kernel over 127.0.0.1 with a per-kernel token; without it, nothing."""
    code = r'''
use std::io::{Read, Write};
let address = std::env::var("FAASET_KERNEL_BRIDGE").unwrap();
let mut stream = std::net::TcpStream::connect(&address).unwrap();
stream.write_all(b"POST /call/anything HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}").unwrap();
let mut answer = String::new();
stream.read_to_string(&mut answer).unwrap();
format!("{} {}", address, answer.lines().next().unwrap_or(""))
'''
    outputs = kernel.ok(code)
    shown = of_type(outputs, "execute_result")[-1]["data"]["text/plain"]
    assert shown.startswith('"127.0.0.1:'), shown
    assert "401" in shown, shown
