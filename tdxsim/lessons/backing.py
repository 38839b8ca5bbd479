"""Notebook 02: how many physical pages back a TD, out-of-place (two backings per GFN) and in-place (one).

Pure Python (no ipywidgets, no matplotlib). One scenario per set-up, in both memory models of tests/scenario_helpers.py
(Documentation/virt/kvm/x86/intel-tdx.rst "KVM TDX creation flow"): build a small TD with a 2-page firmware image,
finalize it, let the guest accept every other page (TDG.MEM.PAGE.ACCEPT: KVM AUGs it), then let it share the top
`shared_pages` pages with TDG.VP.VMCALL<MapGPA> and write a bounce buffer into each through the shared alias. The VMM
answers each MapGPA exit as QEMU's kvm_convert_memory does: it sets the attribute (KVM_SET_MEMORY_ATTRIBUTES
out-of-place, KVM_SET_MEMORY_ATTRIBUTES2 in-place) and, out-of-place, discards the side no longer used. With `discard`
off, an out-of-place VMM sets the attribute and discards nothing (the guest_memfd page stays allocated).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from tdxsim.lessons.build import op as _op
from tdxsim.lessons.build import td_setup_steps
from tdxsim.platform import MMAP_BASE as GMEM_VA
from tdxsim.platform import PAGE_SIZE
from tdxsim.platform import SOURCE_BUFFER_VA as SRC_VA
from tdxsim.scenario import run_scenario

IMAGE_PAGES = 2
IMAGE_TEXT = "firmware page {i}"
BOUNCE_TEXT = "bounce buffer {i}"
PRIVATE = ["KVM_MEMORY_ATTRIBUTE_PRIVATE"]


@dataclass(frozen=True)
class Setup:
    """One configuration: memory model, guest size in pages, how many of them the guest shares, QEMU's discard."""

    in_place: bool = True
    pages: int = 64
    shared_pages: int = 16
    discard: bool = True

    def __post_init__(self) -> None:
        if not IMAGE_PAGES <= self.pages <= 4096:
            raise ValueError(f"the guest must have {IMAGE_PAGES} to 4096 pages, not {self.pages}")
        if not 0 <= self.shared_pages <= self.pages - IMAGE_PAGES:
            raise ValueError(f"the guest can share 0 to {self.pages - IMAGE_PAGES} pages (the image stays private)")

    @property
    def model(self) -> str:
        """The memory model in a few words."""
        if self.in_place:
            return "in-place"
        return "out-of-place, discard" if self.discard else "out-of-place, no discard"

    @property
    def label(self) -> str:
        """The set-up in a few words."""
        return f"{self.model}, {self.shared_pages} of {self.pages} pages shared"


def build_scenario(s: Setup) -> dict[str, Any]:
    """The scenario document for one set-up (docs/scenario.md, format 1, kernel v8)."""
    size = s.pages * PAGE_SIZE
    steps = td_setup_steps(s.in_place, size)
    memslot = steps.pop()
    steps.append({"op": memslot.pop("op"), "label": "memslot", **memslot})
    if s.in_place:
        steps += [
            _op("write", addr=hex(GMEM_VA + i * PAGE_SIZE), data={"text": IMAGE_TEXT.format(i=i)})
            for i in range(IMAGE_PAGES)
        ]
        steps.append(
            _op("KVM_SET_MEMORY_ATTRIBUTES2", "all private", guest_memfd=0, offset=0, size=size, attributes=PRIVATE)
        )
        source = 0
    else:
        steps.append(_op("KVM_SET_MEMORY_ATTRIBUTES", "all private", address=0, size=size, attributes=PRIVATE))
        steps.append(_op("mmap", "source buffer", addr=hex(SRC_VA), length=IMAGE_PAGES * PAGE_SIZE, fd=None))
        steps += [
            _op("write", addr=hex(SRC_VA + i * PAGE_SIZE), data={"text": IMAGE_TEXT.format(i=i)})
            for i in range(IMAGE_PAGES)
        ]
        source = SRC_VA
    steps += [
        _op(
            "KVM_TDX_INIT_MEM_REGION",
            "add",
            vcpu=0,
            source_addr=hex(source),
            gpa=0,
            nr_pages=IMAGE_PAGES,
            flags=["KVM_TDX_MEASURE_MEMORY_REGION"],
        ),
        _op("KVM_TDX_FINALIZE_VM", "finalize"),
    ]
    if not s.in_place:  # QEMU drops the shared copy of the firmware once it is in private memory (QEMU 0dd5fe5e)
        steps.append(_op("munmap", "drop source", addr=hex(SRC_VA), length=IMAGE_PAGES * PAGE_SIZE))
    steps += [_op("guest_accept", gpa=hex(i * PAGE_SIZE)) for i in range(IMAGE_PAGES, s.pages)]
    if s.shared_pages:
        base = (s.pages - s.shared_pages) * PAGE_SIZE
        length = s.shared_pages * PAGE_SIZE
        convert = s.in_place or s.discard
        steps.append(
            _op(
                "guest_map_gpa",
                "share",
                gpa=hex(base),
                size=length,
                shared=True,
                vmm="convert" if convert else "ignore",
            )
        )
        if not convert:
            steps.append(_op("KVM_SET_MEMORY_ATTRIBUTES", "set shared", address=hex(base), size=length, attributes=[]))
        steps += [
            _op("guest_write", gpa=hex(base + i * PAGE_SIZE), data={"text": BOUNCE_TEXT.format(i=i)}, shared=True)
            for i in range(s.shared_pages)
        ]
    return {"format": 1, "kernel": "v8", "gmem_in_place_conversion": s.in_place, "steps": steps}


@cache
def run(s: Setup) -> tuple[dict[str, Any], dict[str, Any]]:
    """(scenario document, the contract's output) for one set-up; cached, so a widget can flip back and forth."""
    doc = build_scenario(s)
    return doc, run_scenario(doc)


def failed_steps(out: dict[str, Any]) -> list[tuple[int, str, str | None]]:
    """(index, op, errno) of every step that failed or raised a signal: empty for a well-formed set-up."""
    return [
        (i, step["op"], step["errno"] or step.get("signal"))
        for i, step in enumerate(out["steps"])
        if step["ret"] or "signal" in step or "exception" in step
    ]


def guest_backing(out: dict[str, Any]) -> int:
    """Bytes of physical memory that back guest memory: every allocated page except the TDX module's metadata."""
    return sum(n for owner, n in out["final"]["memory"].items() if owner != "tdx_metadata")


def pages_per_owner(out: dict[str, Any]) -> dict[str, int]:
    """`final.memory` in pages."""
    return {owner: n // PAGE_SIZE for owner, n in out["final"]["memory"].items()}
