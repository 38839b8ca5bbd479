"""The public Python API answers misuse with a clear exception or a status, never a KeyError,
AttributeError or bare ValueError from deep inside, and nothing depends on `assert` (gone under `python -O`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tdxsim.errno import errno_name
from tdxsim.tdx.module import LEAVES
from tdxsim.tdx.playground import Playground, PlaygroundError
from tdxsim.tdx.sept import SeptState
from tdxsim.vmm.process import Vmm

REPO = Path(__file__).resolve().parents[1]


def test_playground_unaligned_gpas_get_a_status() -> None:
    """An unaligned GPA reaches the module, which answers with a status: a status name, not an exception."""
    p = Playground()
    assert p.remove(0x1001).startswith("TDX_")
    assert isinstance(p.accept(0x1001), str)


def test_playground_misuse_is_a_playground_error() -> None:
    p = Playground()
    with pytest.raises(PlaygroundError, match="no page was added or AUGed at GPA 0x5000"):
        p.reclaim(0x5000)
    with pytest.raises(PlaygroundError, match="level must be 0"):
        p.state(0, -2)
    with pytest.raises(PlaygroundError, match="level must be 0"):
        p.state(0, 9)
    assert p.state(0, 0) is SeptState.FREE
    # TDH.MNG.INIT takes GPAW 48 or 52 only (TdxModule.tdh_mng_init, after tdh_mng_init.c): the build stops there.
    with pytest.raises(PlaygroundError, match="GPAW 50"):
        Playground(gpaw=50)
    assert Playground(gpaw=52).state(0) is SeptState.FREE


def test_vmm_misuse() -> None:
    vmm = Vmm()
    with pytest.raises(RuntimeError, match="KVM_CREATE_VM first"):
        vmm.kvm_convert_memory(0, 4096, True)
    with pytest.raises(ValueError, match="not a TDX error status name"):
        vmm.tdx_error("TDH.MEM.PAGE.ADD", "TDX_NOPE")
    with pytest.raises(ValueError, match="unknown leaf"):
        vmm.tdx_error("TDH.NOPE", "TDX_OPERAND_BUSY")
    with pytest.raises(ValueError, match="count"):
        vmm.tdx_error("TDH.MEM.PAGE.ADD", "TDX_OPERAND_BUSY", 0)
    assert {"TDH.MEM.PAGE.ADD", "TDH.MR.EXTEND", "TDH.MEM.SEPT.REMOVE"} <= LEAVES
    assert vmm.guest_read(0, 16) == {"ret": -9}  # no VM: -EBADF, as for an fd that is not open
    with pytest.raises(ValueError, match="errno -999"):
        errno_name(-999)


def test_widget_arguments_are_checked_up_front() -> None:
    pytest.importorskip("ipywidgets")
    from tdxsim.widgets import lessons, locks, readers

    with pytest.raises(ValueError, match="lock_stepper: era must be one of"):
        locks.lock_stepper(era="nope")
    with pytest.raises(ValueError, match="lifecycle_player: variant"):
        lessons.lifecycle_player("nope")
    with pytest.raises(ValueError, match="sept_walk: gpaw"):
        lessons.sept_walk(gpaw=50)
    with pytest.raises(ValueError, match="who_can_read: actor"):
        readers.who_can_read(actor="nope")


def test_no_assert_in_the_package() -> None:
    """Behaviour must not vanish under -O: the package has no assert statements, and the playground refuses a bad
    GPAW under -O too."""
    import ast

    for path in (REPO / "tdxsim").rglob("*.py"):
        tree = ast.parse(path.read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Assert)], path
    code = (
        "from tdxsim.tdx.playground import Playground\ntry:\n Playground(gpaw=50)\nexcept ValueError as e:\n print(e)"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert "GPAW 50" in out.stdout
