"""Notebook 02: how many physical pages back a TD, out-of-place (two backings per GFN) and in-place (one).

Pure Python (no ipywidgets, no matplotlib). `build` makes one set-up with the recipes (tdxsim.recipes, the order of
Documentation/virt/kvm/x86/intel-tdx.rst "KVM TDX creation flow"): a small TD with a 2-page firmware image,
finalized; the guest accepts every other page (TDG.MEM.PAGE.ACCEPT: KVM AUGs it), then shares the top
`shared_pages` pages with TDG.VP.VMCALL<MapGPA> and writes a bounce buffer into each through the shared alias. The
VMM answers each MapGPA exit as QEMU's kvm_convert_memory does: it sets the attribute (KVM_SET_MEMORY_ATTRIBUTES
out-of-place, KVM_SET_MEMORY_ATTRIBUTES2 in-place) and, out-of-place, discards the side no longer used. With
`discard` off, an out-of-place VMM sets the attribute and discards nothing (the guest_memfd page stays allocated).
The pages are counted with the machine's query `Vmm.describe_pages`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tdxsim import recipes
from tdxsim.platform import PAGE_SIZE
from tdxsim.result import Result
from tdxsim.vmm.process import Vmm

IMAGE_PAGES = 2
IMAGE_TEXT = "firmware page {i}"
BOUNCE_TEXT = "bounce buffer {i}"


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


def _check(result: Result) -> None:
    if not result.ok:
        raise recipes.RecipeError(result)


def build(s: Setup) -> Vmm:
    """A new machine after the set-up's calls; a call that fails raises `recipes.RecipeError` with its Result."""
    vmm = Vmm("v8", gmem_in_place_conversion=s.in_place)
    recipes.create_td(vmm)
    binding, _ = recipes.bind_guest_memfd(vmm, size=s.pages * PAGE_SIZE)  # out of place: the whole slot private
    image = b"".join(IMAGE_TEXT.format(i=i).encode().ljust(PAGE_SIZE, b"\0") for i in range(IMAGE_PAGES))
    recipes.load_image(vmm, binding, gpa=0, data=image)
    if s.in_place:  # the rest of the guest_memfd private too, as the out-of-place slot already is
        recipes.convert_range(vmm, IMAGE_PAGES * PAGE_SIZE, (s.pages - IMAGE_PAGES) * PAGE_SIZE, private=True)
    recipes.run_guest(vmm, accept=tuple(i * PAGE_SIZE for i in range(IMAGE_PAGES, s.pages)))
    if s.shared_pages:
        base, length = (s.pages - s.shared_pages) * PAGE_SIZE, s.shared_pages * PAGE_SIZE
        convert = s.in_place or s.discard
        _check(vmm.guest_map_gpa(gpa=base, size=length, shared=True, vmm="convert" if convert else "ignore"))
        if not convert:
            _check(vmm.KVM_SET_MEMORY_ATTRIBUTES(address=base, size=length, attributes=0))
        for i in range(s.shared_pages):
            text = BOUNCE_TEXT.format(i=i).encode()
            _check(vmm.guest_write(gpa=base + i * PAGE_SIZE, data=text, shared=True))
    return vmm


def pages_per_owner(vmm: Vmm) -> dict[str, int]:
    """Allocated physical pages per owner (the contract's `final.memory`, in pages)."""
    return dict(sorted(Counter(page["owner"] for page in vmm.describe_pages().values()).items()))


def guest_backing(vmm: Vmm) -> int:
    """Pages of physical memory that back guest memory: every allocated page except the TDX module's metadata."""
    return sum(n for owner, n in pages_per_owner(vmm).items() if owner != "tdx_metadata")
