"""tdxsim models Linux, so nothing it computes may depend on the machine it runs on.

The errno numbers are Linux's (x86-64: include/uapi/asm-generic/errno-base.h and errno.h), defined once in
tdxsim.errno and never read from the host's `errno` module; the model layers import nothing that reads host facts.
The seed matrix of chapter 07 is run with the host's `errno` module holding macOS's numbers (xnu bsd/sys/errno.h,
apple-oss-distributions/xnu: EAGAIN 35, EOPNOTSUPP 102, and 95 is EMULTIHOP there), in this process and in a fresh
interpreter where the module is replaced before `import tdxsim`, and must give Linux's results.
"""

from __future__ import annotations

import ast
import errno as host_errno
import json
import subprocess
import sys
from pathlib import Path

from tdxsim import errno
from tdxsim.seed import outcome, run_matrix

ROOT = Path(__file__).resolve().parent.parent

#: Every name tdxsim.errno defines, with the number of its `#define` line in Linux's headers:
#: errno-base.h: EPERM 1, ENOENT 2, EINTR 4, EIO 5, E2BIG 7, EBADF 9, EAGAIN 11, ENOMEM 12, EFAULT 14, EBUSY 16,
#: EEXIST 17, ENODEV 19, EINVAL 22, ENOTTY 25, ENOSPC 28; errno.h: EOPNOTSUPP 95, EHWPOISON 133.
LINUX = {
    "EPERM": 1,
    "ENOENT": 2,
    "EINTR": 4,
    "EIO": 5,
    "E2BIG": 7,
    "EBADF": 9,
    "EAGAIN": 11,
    "ENOMEM": 12,
    "EFAULT": 14,
    "EBUSY": 16,
    "EEXIST": 17,
    "ENODEV": 19,
    "EINVAL": 22,
    "ENOTTY": 25,
    "ENOSPC": 28,
    "EOPNOTSUPP": 95,
    "EHWPOISON": 133,
}

XNU_1_TO_34 = """EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EDEADLK ENOMEM EACCES EFAULT ENOTBLK
EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG ENOSPC ESPIPE EROFS EMLINK EPIPE
EDOM ERANGE"""
#: macOS's numbers (xnu bsd/sys/errno.h): 1-34 as in its header (11 is EDEADLK there, "11 was EAGAIN"), then the
#: ones that differ from Linux's; EHWPOISON does not exist. 95 is EMULTIHOP there, Linux's EOPNOTSUPP.
MACOS = {name: i for i, name in enumerate(XNU_1_TO_34.split(), start=1)}
MACOS |= {"EAGAIN": 35, "EWOULDBLOCK": 35, "ENOTSUP": 45, "ETIMEDOUT": 60, "ENOSYS": 78, "EMULTIHOP": 95}
MACOS |= {"EOPNOTSUPP": 102}

#: The model: everything but the doors in (cli, __main__, the seeded problems of problems.py, which use random) and
#: the presentation layers.
NOT_MODEL = {"cli.py", "__main__.py", "problems.py", "lessons", "plot", "widgets"}
#: What the model may import from the standard library: pure computation, nothing that reads the host.
MODEL_STDLIB = {
    "__future__",
    "bisect",
    "collections",
    "dataclasses",
    "enum",
    "functools",
    "hashlib",
    "heapq",
    "itertools",
    "json",
    "operator",
    "re",
    "struct",
    "types",
    "typing",
    "uuid",
}


def test_errno_values_are_linux_x86_64():
    defined = {k: v for k, v in vars(errno).items() if k.startswith("E") and isinstance(v, int)}
    assert defined == LINUX
    assert [errno.errno_name(-v) for v in LINUX.values()] == list(LINUX)


def test_tdxsim_errno_does_not_import_the_host_module():
    tree = ast.parse((ROOT / "tdxsim" / "errno.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]


HOST_ERRNO_ATTRS = {("os", "strerror"), ("errno", "errorcode")}


def _host_errno_uses(path: Path) -> list[str]:
    """Lines of `path` that import the host's errno module or use os.strerror / errno.errorcode."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import) and any(a.name == "errno" for a in node.names):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: import errno")
        elif isinstance(node, ast.ImportFrom) and node.module == "errno":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from errno import")
        elif isinstance(node, ast.Attribute) and (getattr(node.value, "id", None), node.attr) in HOST_ERRNO_ATTRS:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_no_chapter_widget_lesson_or_test_uses_the_host_errno():
    files = [*ROOT.glob("tdxsim/**/*.py"), *ROOT.glob("notebooks/*.py"), *ROOT.glob("tests/**/*.py")]
    files += [*ROOT.glob("benchmarks/**/*.py")]
    files = [f for f in files if f.name != Path(__file__).name]
    assert len(files) > 40
    assert [use for f in sorted(files) for use in _host_errno_uses(f)] == []


def _model_files() -> list[Path]:
    pkg = ROOT / "tdxsim"
    return [f for f in sorted(pkg.rglob("*.py")) if f.relative_to(pkg).parts[0] not in NOT_MODEL]


def test_model_layers_import_nothing_host_specific():
    """No os, sys, platform, pathlib, time, locale … in the model: imports are tdxsim's own or pure stdlib."""
    files = _model_files()
    assert {"scenario.py", "tdvf.py", "physmem.py"} <= {f.name for f in files}
    assert {f.relative_to(ROOT / "tdxsim").parts[0] for f in files} >= {"vmm", "kvm", "tdx"}
    bad = []
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""] if node.level == 0 else []
            else:
                continue
            bad += [
                f"{f.relative_to(ROOT)}:{node.lineno}: {m}"
                for m in mods
                if m.split(".")[0] not in MODEL_STDLIB and m.split(".")[0] != "tdxsim"
            ]
    assert bad == []


def _cells() -> dict[str, list]:
    """The seed matrix as data: "row | kernel" -> [ret, errno name, MRTD] (None for a cell that cannot exist)."""
    return {
        f"{cell.row.label} | {cell.kernel}": None
        if cell.run is None
        else [outcome(cell.run).ret, outcome(cell.run).errno, (cell.run.vmm.mrtd() or b"").hex()]
        for row in run_matrix()
        for cell in row
    }


#: Spot checks in Linux's numbers, from the sources the matrix cites (v8 23/46: !src_page && !gmem_in_place_conversion
#: -> -EOPNOTSUPP; kvm-x86 tdx_vcpu_init_mem_region: a NULL source -> -EINVAL; akMPZePBdwQlD74H@google.com: the same GPA
#: added twice -> -EIO).
SPOT = {
    "off · 0, nothing at VA 0 | v8": [-95, "EOPNOTSUPP"],
    "off · 0, nothing at VA 0 | kvm-x86-2026-06": [-22, "EINVAL"],
    "on · same GPA added twice | v8": [-5, "EIO"],
    "off · same GPA added twice | v8": [-5, "EIO"],
}


def _check_linux(cells: dict[str, list], linux: dict[str, list]) -> None:
    assert cells == linux
    for key, (ret, name) in SPOT.items():
        assert cells[key][:2] == [ret, name], key


def test_seed_matrix_with_macos_errno_monkeypatched(monkeypatch):
    linux = _cells()
    for name in [k for k in vars(host_errno) if k.startswith("E")]:
        monkeypatch.delattr(host_errno, name)
    for name, value in MACOS.items():
        monkeypatch.setattr(host_errno, name, value, raising=False)
    monkeypatch.setattr(host_errno, "errorcode", {v: k for k, v in MACOS.items()})
    import errno as seen

    assert (seen.EAGAIN, seen.EOPNOTSUPP, seen.errorcode[95]) == (35, 102, "EMULTIHOP")
    _check_linux(_cells(), linux)


MACOS_CHILD = """
import json, sys, types

macos = types.ModuleType("errno", "macOS's errno numbers (xnu bsd/sys/errno.h)")
for name, value in {macos}.items():
    setattr(macos, name, value)
macos.errorcode = {{v: k for k, v in {macos}.items()}}
sys.modules["errno"] = macos
assert not any(m == "tdxsim" or m.startswith("tdxsim.") for m in sys.modules)

sys.path.insert(0, {root!r})
from tdxsim.seed import outcome, run_matrix
import errno

assert (errno.EAGAIN, errno.EOPNOTSUPP, errno.errorcode[95]) == (35, 102, "EMULTIHOP")
cells = {{
    f"{{cell.row.label}} | {{cell.kernel}}": None
    if cell.run is None
    else [outcome(cell.run).ret, outcome(cell.run).errno, (cell.run.vmm.mrtd() or b"").hex()]
    for row in run_matrix()
    for cell in row
}}
json.dump(cells, sys.stdout)
"""


def test_seed_matrix_in_a_fresh_interpreter_whose_errno_module_is_macos():
    """The whole package imported after `errno` was replaced: import must not fail, and the results are Linux's."""
    code = MACOS_CHILD.format(macos=MACOS, root=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    _check_linux(json.loads(proc.stdout), _cells())
