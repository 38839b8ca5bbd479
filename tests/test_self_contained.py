"""No tracked file points outside the repository.

A fresh clone has nothing beside it: every citation must name a primary source a reader can open (a kernel
`file:function` with its commit or tag, an intel/tdx-module file at a public tag, a lore Message-ID), and every
file the code or the tests read must be tracked here. This test reads every file `git ls-files` lists (this file
excepted: it has to spell the patterns) and fails on any of them:

- a path to the sibling folder `shared` of the clone (through the parent folder, or `shared/reference`,
  `shared/spec`, `shared/seed`) or an absolute path under `/work/`;
- the name of a background note kept outside the repository (`kvm-uapi.md`, `tdx-module.md`, …);
- a short source code standing for a citation kept in one of those notes (`K-TDX`, `L-SEV`, `L-MAPPFN`, …).
"""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()

PATHS = [r"\.\./shared\b", r"\bshared/(?:reference|spec|seed|tools|hooks)\b", r"(?<![\w.])/work/"]
NOTES = [
    "kvm-uapi.md",
    "tdx-module.md",
    "thread-and-curriculum.md",
    "scenario-format.md",
    "ecosystem.md",
    "web-and-peers.md",
    "mrtd-worked-examples.json",
    "STYLE.md",
    "env/machines",
]
CODES = [
    r"K-(?:TDX|GMEM|DOC|OLD)",
    r"L-(?:THREAD-0629|PATCH-V8-23|V8|V5|YAN-0622|SEAN-0622|ACK-0626|SEAN-FUAD|2A62|GUPW|SEV|MAPPFN|SPUR)",
    r"Q-(?:TDX|ATTR)",
    r"S-TDX",
    r"M15n?",
    r"M10",
    r"LK-(?:tdx\.h|errno|doc|kvm)",
    r"INPLACE-v8",
    r"TINFOIL",
    r"DSTACK",
]
PATTERN = re.compile("|".join([*PATHS, *(re.escape(n) for n in NOTES), *(rf"(?<![\w-]){c}(?![\w-])" for c in CODES)]))


def tracked_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in out.decode().split("\0") if name and name != THIS]


def offending_lines(text: str) -> list[str]:
    """Each line of `text` that points outside the repository, as 'LINE: match'."""
    return [f"{n}: {m.group(0)!r}" for n, line in enumerate(text.splitlines(), 1) for m in PATTERN.finditer(line)]


@pytest.mark.parametrize(
    ("line", "points_out"),
    [
        ("see .." + "/shared/spec/scenario-format.md", True),  # spelled in two parts, so no tracked file holds it
        ("(kvm-uapi.md §2.5)", True),
        ("[C K-TDX tdx_td_init]", True),
        ("L-SEV: Sean's pre-check", True),
        ("Path('/work/main/x')", True),
        ("tests/data/mrtd-vectors.json", False),
        ("arch/x86/kvm/vmx/tdx.c:tdx_td_init (kvm-x86 09c6f74e)", False),
        ("akPEKslqAhygyjhg@google.com", False),
        ("TDH.MEM.PAGE.ADD at GPA 0x1000", False),
        ("the tinfoilsh/tdx-measure MRTD tool", False),
    ],
)
def test_pattern(line, points_out):
    assert bool(offending_lines(line)) is points_out


def test_no_tracked_file_points_outside_the_repository():
    bad = []
    for name in tracked_files():
        path = ROOT / name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        bad += [f"{name}:{hit}" for hit in offending_lines(text)]
    assert not bad, "files point outside the repository:\n" + "\n".join(bad[:200])
