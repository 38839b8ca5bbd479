"""tdxsim's core under Pyodide (CPython compiled to WebAssembly, Emscripten's libc and errno numbers) in Node.js gives,
byte for byte, what it gives under this CPython.

tests/pyodide/core.py runs in both: every example through the scenario runner and the CLI, the CLI contract (exit
statuses, stdout, stderr; the malformed files of tests/test_cli_contract.py → exit 2), the conformance scenarios that
tests/test_seed_thread.py, tests/test_outcome_matrix.py and tests/test_runtime.py replay (recorded while those tests
run and pass here), chapter 07's seed matrix, and the MRTD of a small synthetic TDVF image. Pyodide comes from the npm
package `pyodide` pinned by tests/pyodide/package-lock.json and runs offline (tests/pyodide/run.mjs): no CDN, no
micropip.

Needs Node.js and npm (tools/test installs Debian's nodejs and npm and runs `npm ci --prefix tests/pyodide`). Without
node the test is skipped, except under CI (CI=true), where a missing node is a failure.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mrtd_replay import mrtd as replay_mrtd
from mrtd_replay import read_sections
from test_cli_contract import MALFORMED, MALFORMED_STEP, VM

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "tests" / "pyodide"
CONFORMANCE = ["tests/test_seed_thread.py", "tests/test_outcome_matrix.py", "tests/test_runtime.py"]
LINUX_ERRNO = {"EAGAIN": 11, "EOPNOTSUPP": 95}  # include/uapi/asm-generic/errno-base.h, errno.h


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _missing(what: str) -> None:
    if _on_ci():
        pytest.fail(f"{what} (CI=true: the Pyodide check must run in CI)")
    pytest.skip(what)


@pytest.fixture(scope="module")
def node() -> str:
    """node, with tests/pyodide/node_modules installed from the lock file (npm ci, registry only)."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        _missing("Node.js is not installed (apt-get install -y nodejs npm)")
    if not (HERE / "node_modules" / "pyodide" / "pyodide.asm.wasm").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("node is installed but npm is not: cannot install tests/pyodide (apt-get install -y npm)")
        cmd = [npm, "ci", "--prefix", str(HERE), "--no-audit", "--no-fund", "--ignore-scripts", "--prefer-offline"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"npm ci --prefix tests/pyodide failed:\n{proc.stderr[-2000:]}"
    return node


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """The conformance scenarios (recorded while their tests run, and pass, under this CPython) and the CLI
    contract's malformed files."""
    work = tmp_path_factory.mktemp("pyodide-inputs")
    cases = work / "cases.json"
    env = {**os.environ, "TDXSIM_RECORD_CASES": str(cases)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "record_cases", "-p", "no:cacheprovider", *CONFORMANCE]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    files = {f"malformed-{name}.json": text for name, text in sorted(MALFORMED.items())}
    for name, step in sorted(MALFORMED_STEP.items()):
        files[f"malformed-step-{name}.json"] = json.dumps({"format": 1, "steps": [VM, step]})
    path = work / "inputs.json"
    path.write_text(json.dumps({"cases": json.loads(cases.read_text()), "cli_files": files}))
    return path


def _first_difference(a: bytes, b: bytes) -> str:
    diff = difflib.unified_diff(a.decode().splitlines(), b.decode().splitlines(), "CPython", "Pyodide", n=2)
    return "\n".join(list(diff)[:40])


def test_core_under_pyodide_matches_cpython_byte_for_byte(node, inputs, tmp_path):
    core = HERE / "core.py"
    cpython, pyodide = tmp_path / "cpython.json", tmp_path / "pyodide.json"
    proc = subprocess.run(
        [sys.executable, "-I", str(core), str(ROOT), str(inputs), str(cpython)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = subprocess.run(
        [node, str(HERE / "run.mjs"), str(inputs), str(pyodide)], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.splitlines()[-1])
    print(f"Pyodide {info['pyodide']} (Python {info['python']}): load {info['load_s']} s, core {info['run_s']} s")
    # It really ran on a host whose errno numbers are not Linux's.
    assert info["platform"] == "emscripten"
    assert info["host_errno"] != LINUX_ERRNO, info["host_errno"]

    a, b = cpython.read_bytes(), pyodide.read_bytes()
    assert a == b, _first_difference(a, b)

    report = json.loads(a)
    examples = sorted(p.name for p in (ROOT / "examples").glob("*.json"))
    assert list(report["examples"]) == examples and all("output" in r for r in report["examples"].values())
    assert len(report["conformance"]) > 150
    assert {c["test"].split("::")[0] for c in report["conformance"]} == set(CONFORMANCE)
    by_argv = {" ".join(c["argv"]): c for c in report["cli"]}
    assert [by_argv[f"run examples/{name}"]["exit"] for name in examples] == [0] * len(examples)
    for name in [*(f"malformed-{n}.json" for n in MALFORMED), *(f"malformed-step-{n}.json" for n in MALFORMED_STEP)]:
        call = by_argv[f"run {name}"]
        assert (call["exit"], call["stdout"]) == (2, ""), call
        assert call["stderr"].startswith(f"tdxsim: {name}: ") and call["stderr"].count("\n") == 1, call
    # The image's MRTD, replayed independently (tests/mrtd_replay.py never imports tdxsim).
    image = _image()
    assert report["firmware"]["image_sha384"] == hashlib.sha384(image).hexdigest()
    assert report["firmware"]["single_pass"]["mrtd"] == replay_mrtd(image, read_sections(image))
    assert report["firmware"]["two_pass"]["mrtd"] == replay_mrtd(image, read_sections(image), two_pass=True)
    # Added from itself (`source_addr` 0): the source never enters MRTD (tdh_mem_page_add.c), the same digest.
    assert report["firmware"]["source_zero"]["mrtd"] == report["firmware"]["single_pass"]["mrtd"]
    assert by_argv["mrtd firmware.fd"]["stdout"] == report["firmware"]["single_pass"]["mrtd"] + "\n"


def _image() -> bytes:
    """The synthetic image, built here by core.py's own builder (the report's sha384 pins it)."""
    image = runpy.run_path(str(HERE / "core.py"))["firmware_image"]()
    return image
