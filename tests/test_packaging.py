"""The package installs light and the conda environment matches pyproject.

`pip install .` into a fresh venv must bring no third-party package (the simulator and its CLI are the standard
library plus tdxsim), and the installed CLI must then replay a scenario and measure a firmware image with the
results the independent replays in scenario_helpers and mrtd_replay give. environment.yml must list the same
packages with the same version bounds as pyproject's `notebooks` and `dev` extras, so a conda user and a pip user get
the same stack.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from mrtd_replay import mrtd as replay_mrtd
from mrtd_replay import read_sections
from scenario_helpers import mrtd as scenario_mrtd

from tdxsim.tdvf import BFV, CFV, MR_EXTEND, TD_HOB, TEMP_MEM, SectionSpec, build_tdvf_image

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
KiB = 1024
#: google/go-tdx-guest validate/validate_test.go TestTdxQuote: the MRTD of testing/testdata/tdx_prod_quote_SPR_E4.dat.
QUOTE_MRTD = "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb"


def _name(requirement: str) -> tuple[str, str]:
    """("package-name", "version bounds") of a requirement, the name normalised as PEP 503 does."""
    match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*?)\s*", requirement)
    assert match, f"cannot read requirement {requirement!r}"
    return re.sub(r"[-_.]+", "-", match[1]).lower(), match[2].replace(" ", "")


def _environment_yml() -> tuple[str, dict[str, str], dict[str, str]]:
    """environment.yml's (python spec, conda packages, pip packages), each package as name -> bounds in pip's
    spelling (conda's `name=X.Y` is pip's `name==X.Y.*`)."""
    python, conda, pip = "", {}, {}
    pip_indent = None
    for line in (REPO / "environment.yml").read_text().splitlines():
        item = re.fullmatch(r"(\s*)- (.*?)\s*(#.*)?", line)
        if item is None:
            continue
        indent, text = len(item[1]), item[2]
        if text == "pip:":
            pip_indent = indent
            continue
        if pip_indent is not None and indent > pip_indent:
            if not text.startswith("-e "):
                name, bounds = _name(text)
                pip[name] = bounds
            continue
        pip_indent = None
        if text in ("conda-forge", "pip"):
            continue
        name, bounds = _name(text)
        bounds = re.sub(r"^=([0-9.]+)$", r"==\1.*", bounds)
        if name == "python":
            python = bounds
        else:
            conda[name] = bounds
    return python, conda, pip


def test_environment_yml_matches_the_notebooks_and_dev_extras() -> None:
    """Every package of the `notebooks` and `dev` extras with its bounds, and nothing else (pyproject is the source)."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    wanted = dict(_name(r) for r in extras["notebooks"] + extras["dev"])
    python, conda, pip = _environment_yml()
    both = conda.keys() & pip.keys()
    assert not both, f"listed both for conda and for pip: {sorted(both)}"
    assert {**conda, **pip} == wanted
    minimum = re.fullmatch(r">=(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert minimum and python.startswith("=="), f"python {python!r}, requires-python {minimum}"
    assert tuple(map(int, python[2:].rstrip(".*").split("."))) >= (int(minimum[1]), int(minimum[2]))


def test_license_file_is_the_license_pyproject_names() -> None:
    """pyproject says MIT; LICENSE is the MIT text (its first line and its grant)."""
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text


def _firmware() -> bytes:
    """A small TDVF image: a measured BFV, an unmeasured CFV, TempMem and the TD HOB (4 + 2 + 2 + 2 pages)."""
    bfv = bytes((i * 37 + 11) & 0xFF for i in range(4 * 4 * KiB))
    cfv = bytes((i * 5 + 1) & 0xFF for i in range(2 * 4 * KiB))
    return build_tdvf_image(
        [
            SectionSpec(BFV, (1 << 32) - len(bfv), len(bfv), MR_EXTEND, bfv),
            SectionSpec(CFV, (1 << 32) - len(bfv) - len(cfv), len(cfv), 0, cfv),
            SectionSpec(TEMP_MEM, 0x810000, 8 * KiB),
            SectionSpec(TD_HOB, 0x809000, 8 * KiB),
        ]
    )


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv without pip into which `pip install .` installed the checkout, with pip's build isolation (the
    build backend comes from the package index, into a throwaway build environment); its python."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--disable-pip-version-check", str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, f"pip install . failed:\n{install.stdout}\n{install.stderr}"
    return python


def _installed(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the fresh venv's python away from the checkout and without PYTHONPATH, so only what pip installed counts."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(python), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_pip_install_brings_no_third_party_package(fresh_venv: Path, tmp_path: Path) -> None:
    """The fresh venv holds exactly one distribution, tdxsim, with its LICENSE, and `import tdxsim` comes from it."""
    listing = _installed(
        fresh_venv,
        "-c",
        "import importlib.metadata as m, json, tdxsim;"
        "d = m.distribution('tdxsim');"
        "print(json.dumps([sorted(x.metadata['Name'] for x in m.distributions()),"
        " sorted(str(f) for f in d.files if f.name == 'LICENSE'), tdxsim.__file__]))",
        cwd=tmp_path,
    )
    assert listing.returncode == 0, listing.stderr
    names, licenses, module = json.loads(listing.stdout)
    assert names == ["tdxsim"]
    assert licenses, "the wheel carries no LICENSE"
    assert Path(module).is_relative_to(fresh_venv.parents[1])


def test_installed_cli_replays_an_example(fresh_venv: Path, tmp_path: Path) -> None:
    """`python -m tdxsim run examples/seed-thread-in-place.json` from the fresh venv: the add, finalize and read
    succeed, the guest reads 'Hello' and MRTD is the independent replay of one measured PAGE.ADD of 'Hello' at GPA 0
    (the example's description and scenario_helpers.mrtd)."""
    out = _installed(
        fresh_venv, "-m", "tdxsim", "run", str(REPO / "examples" / "seed-thread-in-place.json"), cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    labelled = {st["label"]: st for st in result["steps"] if "label" in st}
    assert {label: st["ret"] for label, st in labelled.items()} == {"add": 0, "finalize": 0, "read": 0}
    assert bytes.fromhex(labelled["read"]["data"]) == b"Hello"
    assert result["final"]["mrtd"] == scenario_mrtd([(0, b"Hello")])


def test_installed_cli_measures_a_synthetic_firmware(fresh_venv: Path, tmp_path: Path) -> None:
    """`python -m tdxsim mrtd IMAGE --json` from the fresh venv: 10 PAGE.ADD, 4 measured pages = 64 MR.EXTEND, and
    the MRTD of tests/mrtd_replay.py, which never imports tdxsim."""
    image = _firmware()
    (tmp_path / "tdvf.fd").write_bytes(image)
    out = _installed(fresh_venv, "-m", "tdxsim", "mrtd", "tdvf.fd", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert (result["page_add"], result["mr_extend"]) == (10, 64)
    assert result["mrtd"] == replay_mrtd(image, read_sections(image))


def test_installed_package_ships_the_quote_chapter_10_reads(fresh_venv: Path, tmp_path: Path) -> None:
    """Chapter 10 reads a real quote without a checkout (pip install, JupyterLite): the installed package holds it,
    with its provenance README and the Apache-2.0 licence text, and `tdxsim.lessons.doctor.SHIPPED_QUOTE` reads it
    through importlib.resources. Its MRTD is the one go-tdx-guest's validate/validate_test.go `TestTdxQuote` spells
    out (tdxsim/data/quotes/README.md)."""
    out = _installed(
        fresh_venv,
        "-c",
        "import json, tdxsim; from importlib import resources; from tdxsim.lessons import doctor;"
        "from tdxsim.quote import parse_quote;"
        "d = resources.files('tdxsim').joinpath('data', 'quotes');"
        "print(json.dumps([parse_quote(doctor.SHIPPED_QUOTE.read_bytes()).mrtd,"
        " 'Apache License' in d.joinpath('LICENSE-go-tdx-guest').read_text(),"
        " 'google/go-tdx-guest' in d.joinpath('README.md').read_text(), str(doctor.SHIPPED_QUOTE)]))",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    mrtd, licence, provenance, where = json.loads(out.stdout)
    assert mrtd == QUOTE_MRTD
    assert licence and provenance
    assert Path(where).is_relative_to(fresh_venv.parents[1])
