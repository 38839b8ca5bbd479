"""Secure-EPT entry states and the module's allowed pre-state table (intel/tdx-module TDX_1.5.01).

Source: intel/tdx-module TDX_1.5.01 include/auto_gen/sept_state_lookup.{h,c} (`seamcall_sept_state_lookup`,
`tdcall_sept_state_lookup`); only the non-migration states are modelled.
"""

from enum import StrEnum


class SeptState(StrEnum):
    """S-EPT entry state (SEPT_STATE_*_ENCODING), named as the module names them."""

    FREE = "FREE"
    NL_MAPPED = "NL_MAPPED"
    NL_BLOCKED = "NL_BLOCKED"
    MAPPED = "MAPPED"
    BLOCKED = "BLOCKED"
    PENDING = "PENDING"
    PENDING_BLOCKED = "PENDING_BLOCKED"


S = SeptState

#: Allowed pre-states per leaf, restricted to the modelled states (sept_state_lookup.c
#: seamcall_sept_state_lookup, tdcall_sept_state_lookup).
ALLOWED_PRE_STATES: dict[str, frozenset[SeptState]] = {
    "TDH.MEM.PAGE.ADD": frozenset({S.FREE}),
    "TDH.MEM.SEPT.ADD": frozenset({S.FREE}),
    "TDH.MEM.PAGE.AUG": frozenset({S.FREE}),
    "TDH.MEM.RANGE.BLOCK": frozenset({S.NL_MAPPED, S.MAPPED, S.PENDING}),
    "TDH.MR.EXTEND": frozenset({S.MAPPED}),
    "TDH.MEM.PAGE.REMOVE": frozenset({S.MAPPED, S.BLOCKED, S.PENDING, S.PENDING_BLOCKED}),
    "TDH.MEM.SEPT.REMOVE": frozenset({S.NL_MAPPED, S.NL_BLOCKED}),
    "TDH.MEM.RANGE.UNBLOCK": frozenset({S.NL_BLOCKED, S.BLOCKED, S.PENDING_BLOCKED}),
    "TDG.MEM.PAGE.ACCEPT": frozenset({S.PENDING}),
}

#: The post-state of each transition (each leaf's src/vmm_dispatcher/api_calls/tdh_*.c).
BLOCK = {S.NL_MAPPED: S.NL_BLOCKED, S.MAPPED: S.BLOCKED, S.PENDING: S.PENDING_BLOCKED}
UNBLOCK = {v: k for k, v in BLOCK.items()}
BLOCKED_STATES = frozenset(UNBLOCK)
LEAF_STATES = frozenset({S.MAPPED, S.BLOCKED, S.PENDING, S.PENDING_BLOCKED})

#: Every (pre, post, leaf) transition the module makes in this model; the invariant tests check against it.
TRANSITIONS: frozenset[tuple[SeptState, SeptState, str]] = frozenset(
    {
        (S.FREE, S.NL_MAPPED, "TDH.MEM.SEPT.ADD"),
        (S.FREE, S.MAPPED, "TDH.MEM.PAGE.ADD"),
        (S.FREE, S.PENDING, "TDH.MEM.PAGE.AUG"),
        (S.PENDING, S.MAPPED, "TDG.MEM.PAGE.ACCEPT"),
        *((pre, post, "TDH.MEM.RANGE.BLOCK") for pre, post in BLOCK.items()),
        *((pre, post, "TDH.MEM.RANGE.UNBLOCK") for pre, post in UNBLOCK.items()),
        *((pre, S.FREE, "TDH.MEM.PAGE.REMOVE") for pre in ALLOWED_PRE_STATES["TDH.MEM.PAGE.REMOVE"]),
        *((pre, S.FREE, "TDH.MEM.SEPT.REMOVE") for pre in ALLOWED_PRE_STATES["TDH.MEM.SEPT.REMOVE"]),
    }
)


def level_shift(level: int) -> int:
    """Bits of GPA one entry at `level` maps: 12 (4 KiB, level 0), 21 (2 MiB), 30 (1 GiB), 39, 48."""
    return 12 + 9 * level


def entry_base(gpa: int, level: int) -> int:
    """The first GPA the level-`level` entry covering `gpa` maps."""
    shift = level_shift(level)
    return gpa >> shift << shift
