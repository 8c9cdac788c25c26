"""evcxr's build folder comes from a pool per user (`~/.cache/faaset/evcxr/session-<n>`), not
one per workspace: a kernel in a folder never used before takes the first build folder no live
kernel holds, where earlier sessions (and install.sh's warm-up) left the compiled
dependencies; two live kernels never share one."""

import pathlib
import shutil

from conftest import Kernel, new_workspace, result_text


def compile_dir(kernel):
    """The folder evcxr compiled the last cell in (evcxr's own `:last_compile_dir`)."""
    outputs = kernel.ok(":last_compile_dir")
    shown = "".join(
        m["content"].get("text", "") or m["content"].get("data", {}).get("text/plain", "")
        for m in outputs
    )
    return pathlib.Path(shown.strip().strip('"'))


def test_a_new_folder_takes_a_free_build_folder_and_live_kernels_never_share(jupyter_path, tmp_path):
    # The pool sits beside the functions' shared target folder: moved into tmp_path here.
    env = {"FAASET_TARGET_DIR": str(tmp_path / "cache" / "target")}
    pool = tmp_path / "cache" / "evcxr"
    workspaces = [new_workspace() for _ in range(3)]
    first = Kernel(workspaces[0], jupyter_path, None, env)
    second = third = None
    try:
        assert result_text(first.ok("40 + 2")) == "42"
        assert compile_dir(first).is_relative_to(pool / "session-0")
        second = Kernel(workspaces[1], jupyter_path, None, env)
        assert result_text(second.ok("40 + 2")) == "42"
        assert compile_dir(second).is_relative_to(pool / "session-1"), "a live kernel's folder is not shared"
        first.close()
        first = None
        # A third workspace, never used before: the folder the first kernel released.
        third = Kernel(workspaces[2], jupyter_path, None, env)
        assert result_text(third.ok("40 + 2")) == "42"
        assert compile_dir(third).is_relative_to(pool / "session-0")
        built = [t for w in workspaces for t in w.glob("**/target")]
        assert not built, f"nothing is built in a workspace: {built}"
    finally:
        for kernel in (first, second, third):
            if kernel is not None:
                kernel.close()
        for w in workspaces:
            shutil.rmtree(w, ignore_errors=True)
