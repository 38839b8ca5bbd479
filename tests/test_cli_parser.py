"""The command line itself (docs/scenario.md "Exit codes", "Errors", "Measurement from firmware" and "Practice
problems"): every bad command line is one stderr line `tdxsim: … (see 'python -m tdxsim --help')` and exit 2,
`-h`/`--help` prints the usage text to stdout and exits 0 (also after a subcommand), `--opt VALUE` and
`--opt=VALUE` mean the same, `--` ends the options; and the CLI's imports stay small (no argparse, re, gettext or
warnings on the `mrtd` path).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tdxsim import cli
from tdxsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
OVMF_FD = Path("/usr/share/ovmf/OVMF.fd")
QUOTE = ROOT / "tdxsim" / "data" / "quotes" / "tdx_prod_quote_SPR_E4.dat"  # go-tdx-guest's SPR quote (v4)
SEE_HELP = " (see 'python -m tdxsim --help')"
#: mrtd's options and their values, as the synopsis in docs/scenario.md spells them.
MRTD_OPTIONS = ["--two-pass", "--variant NAME", "--expect HEX", "--quote FILE", "--tdreport FILE", "--transcript"]
HEX = "00" * 48

#: One bad command line per kind, with words its one line must hold (what is wrong, or what to do instead). No file
#: named here exists: were the command line accepted, the error would name the file and lack the pointer to --help.
BAD = {
    "no command": ([], ["no command given", "run, mrtd, problem"]),
    "unknown command": (["frobnicate"], ["'frobnicate'", "run", "mrtd", "problem"]),
    "option before the command": (["--json", "mrtd", "fw.fd"], ["'--json'"]),
    "unknown option": (["mrtd", "fw.fd", "--three-pass"], ["'--three-pass'", "--two-pass"]),
    "unknown short option": (["mrtd", "fw.fd", "-x"], ["'-x'"]),
    "run takes no option": (["run", "a.json", "--json"], ["'--json'"]),
    "ambiguous prefix": (["mrtd", "fw.fd", "--t"], ["ambiguous", "--two-pass, --tdreport, --transcript"]),
    "missing value at the end": (["mrtd", "fw.fd", "--variant"], ["--variant NAME"]),
    "missing value before an option": (["mrtd", "fw.fd", "--expect", "--json"], ["--expect", "'--json'"]),
    "empty value": (["mrtd", "fw.fd", "--quote="], ["--quote FILE"]),
    "value given to a switch": (["mrtd", "fw.fd", "--json=yes"], ["--json"]),
    "missing positional": (["run"], ["SCENARIO"]),
    "missing required option": (["problem", "--json"], ["--seed N"]),
    "extra positional (run)": (["run", "a.json", "b.json"], ["'b.json'", "takes SCENARIO"]),
    "extra positional (mrtd)": (["mrtd", "a.fd", "b.fd"], ["'b.fd'", "takes [FIRMWARE]"]),
    "extra positional (problem)": (["problem", "--seed", "1", "x"], ["'x'", "takes no arguments"]),
    "extra positional after --": (["run", "a.json", "--", "b.json"], ["'b.json'"]),
    "option given twice": (["problem", "--seed", "1", "--seed", "2"], ["--seed"]),
    "switch given twice": (["mrtd", "fw.fd", "--json", "--json"], ["--json"]),
    "--two-pass with --variant": (
        ["mrtd", "fw.fd", "--two-pass", "--variant", "two-pass"],
        ["--two-pass", "--variant"],
    ),
    "--two-pass with --expect": (["mrtd", "fw.fd", "--two-pass", "--expect", HEX], ["--two-pass", "--expect"]),
    "--variant with --tdreport": (
        ["mrtd", "fw.fd", "--variant=extend-all", "--tdreport", "r"],
        ["--variant", "--tdreport"],
    ),
    "--expect with --quote": (["mrtd", "fw.fd", "--expect", HEX, "--quote", "q"], ["--expect", "--quote"]),
    "--quote with --transcript": (["mrtd", "--quote", "q", "--transcript"], ["--quote", "--transcript"]),
    "a newline in the option": (["mrtd", "--bad\nname"], ["'--bad\\nname'"]),
}


def _call(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.mark.parametrize("case", list(BAD))
def test_bad_command_line_is_one_line_exit_2(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv, words = BAD[case]
    status, out, err = _call(argv, capsys)
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("tdxsim: ") and err.endswith(SEE_HELP + "\n"), err
    for word in words:
        assert word in err, (word, err)


def test_bad_command_line_from_the_shell() -> None:
    """The whole process: `python -m tdxsim` with an unknown subcommand exits 2 with one line and no traceback."""
    out = subprocess.run([sys.executable, "-m", "tdxsim", "frobnicate"], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == f"tdxsim: unknown command 'frobnicate': choose one of run, mrtd, problem{SEE_HELP}\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["mrtd", "-h"],
        ["mrtd", "fw.fd", "--expect", HEX, "--help"],
        ["mrtd", "--bogus", "-h"],
        ["mrtd", "--quote", "-h"],
        ["mrtd", "fw.fd", "--hel"],  # a prefix of --help, as of any option
        ["mrtd", "fw.fd", "--h"],  # the shortest: no other option of mrtd starts with --h
    ],
)
def test_help_after_mrtd_lists_its_options(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """-h anywhere before `--` wins over everything else on the line: mrtd's usage text, exit 0, nothing on stderr."""
    status, out, err = _call(argv, capsys)
    assert (status, err) == (0, "")
    assert out.startswith("usage: python -m tdxsim mrtd [FIRMWARE] [options]\n") and out.endswith(".\n")
    rows = [line for line in out.splitlines() if line.startswith("  ")]
    for option in [*MRTD_OPTIONS, "--json", "-h, --help"]:
        assert any(row.startswith(f"  {option} ") for row in rows), option
    # One column: every row's text starts where the longest label ("--tdreport FILE") ends, plus two spaces.
    assert {len(row) - len(row[2:].split("  ", 1)[1].lstrip()) for row in rows} == {2 + len("--tdreport FILE") + 2}


def test_help_of_problem_and_run_and_the_top_level(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _call(["problem", "--help"], capsys)
    assert (status, err) == (0, "") and out.startswith("usage: python -m tdxsim problem --seed N [options]\n")
    assert "--answer" in out and "--json" in out
    status, out, err = _call(["run", "-h"], capsys)
    assert (status, err) == (0, "") and out.startswith("usage: python -m tdxsim run SCENARIO\n")
    for argv in (["--help"], ["-h", "mrtd"], ["frobnicate", "-h"]):
        status, out, err = _call(argv, capsys)
        assert (status, err) == (0, ""), argv
        assert out.startswith("usage: python -m tdxsim COMMAND") and all(f"\n  {c} " in out for c in ("run", "mrtd"))
        assert "\n  problem " in out and "\n  -h, --help " in out and out.endswith("\n")


def test_help_imports_neither_argparse_nor_shutil() -> None:
    """The help has a fixed layout: nothing asks the terminal for its size."""
    code = "import sys; from tdxsim.cli import main; main(['mrtd', '-h']); print(sorted(set(sys.modules) & {M}))"
    out = _python(code.replace("{M}", "{'argparse', 'shutil', 're', 'gettext', 'warnings'}"))
    assert out.stdout.startswith("usage: python -m tdxsim mrtd") and out.stdout.splitlines()[-1] == "[]"


def test_opt_equals_value_and_prefixes_mean_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    """`--quote FILE`, `--quote=FILE` and the unambiguous prefix `--quo FILE` read the same quote; likewise --seed."""
    outs = [
        _call(["mrtd", *argv], capsys)
        for argv in (["--quote", str(QUOTE)], [f"--quote={QUOTE}"], ["--quo", str(QUOTE)])
    ]
    assert outs[0][0] == 0 and outs[0][1] and outs[0][2] == ""
    assert outs[1] == outs[0] and outs[2] == outs[0]
    seeds = [_call(["problem", *argv], capsys) for argv in (["--seed", "4"], ["--seed=4"], ["--se=4", "--ans"])]
    assert seeds[0][0] == 0 and seeds[1] == seeds[0]
    assert seeds[2][1] == _call(["problem", "--seed", "4", "--answer"], capsys)[1]


def test_double_dash_ends_the_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After `--` a word that starts with '-' is a file name: `run -- -x.json` replays it; without `--` it is an
    unknown option; and `-h` after `--` is a file name too, not a request for help."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "examples" / "double-add.json", tmp_path / "-x.json")
    status, out, err = _call(["run", "--", "-x.json"], capsys)
    assert (status, err) == (0, "") and out.startswith("{")
    status, out, err = _call(["run", "-x.json"], capsys)
    assert status == 2 and "'-x.json'" in err and err.endswith(SEE_HELP + "\n")
    status, out, err = _call(["run", "--", "-h"], capsys)
    assert (status, out, err) == (2, "", "tdxsim: -h: no such file\n")
    status, out, err = _call(["problem", "--seed=-1"], capsys)  # --opt=VALUE takes a value that starts with '-'
    assert status == 2 and err.startswith("tdxsim: --seed: '-1' is not a seed")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)


FORBIDDEN = ("argparse", "re", "gettext", "warnings")


def test_importing_the_cli_imports_no_argparse_re_gettext_or_warnings() -> None:
    out = _python(f"import sys, tdxsim.cli; print(sorted(set(sys.modules) & set({FORBIDDEN!r})))")
    assert out.stdout == "[]\n"


def _mrtd_run_modules() -> tuple[list[str], set[str]]:
    """`main(["mrtd", OVMF.fd])` in a fresh interpreter: its stdout lines and the modules loaded at the end. (Run
    from `-c`, not `-m`: CPython 3.11's runpy imports importlib, which imports warnings, before tdxsim runs.)"""
    if not OVMF_FD.exists():
        pytest.skip(f"{OVMF_FD} absent: apt-get install ovmf")
    code = f"import sys; from tdxsim.cli import main; s = main(['mrtd', {str(OVMF_FD)!r}]); print(s, *sys.modules)"
    lines = _python(code).stdout.splitlines()
    assert len(lines) == 2 and len(lines[0]) == 96 and set(lines[0]) <= set("0123456789abcdef")  # an MRTD
    status, *modules = lines[1].split()
    assert status == "0"
    return lines, set(modules)


def test_mrtd_run_imports_no_argparse_or_gettext() -> None:
    _, modules = _mrtd_run_modules()
    assert not modules & {"argparse", "gettext"}, modules & {"argparse", "gettext"}


def test_mrtd_run_imports_no_re_or_warnings() -> None:
    """Nothing on the `mrtd` path needs re or warnings (its structs are `tdxsim.records`, not dataclasses, which
    imports both)."""
    _, modules = _mrtd_run_modules()
    assert not modules & {*FORBIDDEN, "dataclasses", "inspect"}, modules & {*FORBIDDEN, "dataclasses", "inspect"}


# -- main's one error path (docs/scenario.md "Exit codes"), in process ------------------------------------------


def test_main_reads_sys_argv_after_the_program_name(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["tdxsim", "problem", "--seed", "5", "--json"])
    assert main() == 0 and json.loads(capsys.readouterr().out)["parameters"]["seed"] == 5


@pytest.mark.parametrize(
    ("raised", "status", "line"),
    [
        (KeyboardInterrupt(), 130, "tdxsim: interrupted"),
        (MemoryError(), 2, "tdxsim: out of memory"),
        (OSError(28, "No space left on device"), 2, "tdxsim: stdout: No space left on device"),
        (BrokenPipeError(32, "Broken pipe"), 2, "tdxsim: stdout: Broken pipe"),
    ],
)
def test_what_a_command_raises_becomes_one_line_and_a_status(
    raised: BaseException, status: int, line: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """SIGINT: exit 130; out of memory and a full, closed or broken stdout: exit 2; each one line on stderr. (After a
    stdout error the real process points fd 1 at /dev/null; here that is recorded, not done, as fd 1 is pytest's.)"""
    silenced = []

    def command(_args: object) -> int:
        raise raised

    monkeypatch.setattr(cli, "cmd_problem", command)
    monkeypatch.setattr(cli, "_silence_stdout", lambda: silenced.append(True))
    assert main(["problem", "--seed", "1"]) == status
    assert capsys.readouterr().err == line + "\n"
    assert silenced == ([True] if isinstance(raised, OSError) else [])


def test_no_stdout_is_a_closed_stdout(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(cli, "_silence_stdout", lambda: None)
    assert main(["problem", "--seed", "1"]) == 2
    assert capsys.readouterr().err == "tdxsim: stdout: closed\n"
