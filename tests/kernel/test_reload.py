"""Auto-reload: functions defined in an earlier session come back as stubs when the kernel
starts, without redefining or redeploying them."""

from conftest import of_type, text


def test_functions_come_back_after_a_restart(fresh_kernel):
    fresh_kernel.ok(
        "%%cloud_function local\n"
        "fn echo_back(request: Value, _context: Context) -> Value {\n"
        '    json!({"echo": request["say"].clone()})\n'
        "}\n",
        timeout=600,
    )
    fresh_kernel.restart()
    outputs = fresh_kernel.ok('echo_back(json!({"say": "again"}))["echo"].clone()')
    shown = text(outputs)
    # The first cell after start shows the platforms and the reloaded functions.
    assert "functions: echo_back" in shown
    assert "built" not in shown, "nothing is rebuilt on reload"
    assert of_type(outputs, "execute_result")[-1]["data"]["text/plain"] == '"again"'
