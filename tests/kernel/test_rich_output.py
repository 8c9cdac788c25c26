"""What Rust's notebook crates display (evcxr's content protocol and `evcxr_display`) shown
where it was printed, and the history a console searches — over the real Jupyter protocol."""

import base64

from conftest import of_type, text

# A 1×1 PNG, printed in base64 lines as evcxr_runtime prints images.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()
PNG_LINES = "\\n".join(PNG[i : i + 40] for i in range(0, len(PNG), 40))


def sequence(outputs):
    """The cell's outputs in order: ("stream", text) or (msg_type, {mime: content})."""
    shown = []
    for message in outputs:
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            shown.extend(("stream", line) for line in content["text"].splitlines())
        elif kind in ("display_data", "execute_result"):
            shown.append((kind, content["data"]))
    return shown


def test_displays_are_display_data_in_order_with_every_mime_type(kernel):
    outputs = kernel.ok(
        'println!("first");\n'
        'println!("EVCXR_BEGIN_CONTENT text/html\\n<b>bold</b>\\nEVCXR_END_CONTENT");\n'
        f'println!("EVCXR_BEGIN_CONTENT image/png\\n{PNG_LINES}\\nEVCXR_END_CONTENT");\n'
        'println!("between");\n'
        'println!("EVCXR_BEGIN_CONTENT text/html\\n<i>second</i>\\nEVCXR_END_CONTENT");\n'
        "std::thread::sleep(std::time::Duration::from_millis(200));\n"
        'println!("last");'
    )
    shown = sequence(outputs)
    # (The kernel's first cell starts with its banner.)
    shown = shown[shown.index(("stream", "first")):]
    assert shown == [
        ("stream", "first"),
        ("display_data", {"text/html": "<b>bold</b>", "image/png": PNG}),
        ("stream", "between"),
        ("display_data", {"text/html": "<i>second</i>"}),
        ("stream", "last"),
    ], shown
    # Nothing of the protocol leaks into the text.
    assert "EVCXR_" not in text(outputs)


def test_a_type_with_evcxr_display_displays_where_it_is_shown_and_as_the_result(kernel):
    kernel.ok(
        "struct Gauge(u32);\n"
        "impl Gauge {\n"
        "    fn evcxr_display(&self) {\n"
        '        println!("EVCXR_BEGIN_CONTENT text/html\\n<meter value=\\"{}\\"></meter>\\nEVCXR_END_CONTENT", self.0);\n'
        '        println!("EVCXR_BEGIN_CONTENT text/plain\\ngauge {}\\nEVCXR_END_CONTENT", self.0);\n'
        "    }\n"
        "}"
    )
    outputs = kernel.ok('Gauge(3).evcxr_display();\nprintln!("after");\nGauge(7)')
    shown = sequence(outputs)
    assert shown == [
        ("display_data", {"text/html": '<meter value="3"></meter>', "text/plain": "gauge 3"}),
        ("stream", "after"),
        ("execute_result", {"text/html": '<meter value="7"></meter>', "text/plain": "gauge 7"}),
    ], shown


def test_a_value_at_the_end_is_still_the_cells_result(kernel):
    outputs = kernel.ok('json!({"a": 1})')
    results = of_type(outputs, "execute_result")
    assert results and results[-1]["data"]["application/json"] == {"a": 1}
    assert not of_type(outputs, "display_data")


def history(kernel, **request):
    reply = kernel.reply(kernel.client.history(**request))
    assert reply["content"]["status"] == "ok", reply["content"]
    return [tuple(entry) for entry in reply["content"]["history"]]


def test_history_tail_range_and_search_also_after_a_restart(fresh_kernel):
    k = fresh_kernel
    k.ok("let apples = 3;")
    k.ok("apples * 2")
    k.ok("%faaset list")
    tail = history(k, hist_access_type="tail", n=2, output=False, raw=True)
    assert [entry[1:] for entry in tail] == [(2, "apples * 2"), (3, "%faaset list")], tail
    first_session = tail[0][0]
    assert (k.workspace / ".faaset" / "history.jsonl").is_file()

    k.restart()
    k.ok("let pears = 1;")
    earlier = history(
        k, hist_access_type="range", session=-1, start=1, stop=3, output=False, raw=True
    )
    assert earlier == [(first_session, 1, "let apples = 3;"), (first_session, 2, "apples * 2")]
    now = history(k, hist_access_type="range", session=0, start=1, stop=None, output=False, raw=True)
    assert now == [(first_session + 1, 1, "let pears = 1;")]
    found = history(k, hist_access_type="search", pattern="*apples*", output=False, raw=True)
    assert [entry[2] for entry in found] == ["let apples = 3;", "apples * 2"]
