"""Figures drawn from the simulator's own record (matplotlib only; deterministic; every figure sets its size).

Each function returns a `matplotlib.figure.Figure`; `to_png` renders one to PNG bytes for an Image widget.
"""

from tdxsim.plot.matrix import outcome_matrix
from tdxsim.plot.mrtd import mrtd_records, mrtd_steps
from tdxsim.plot.ownership import (
    OwnershipView,
    machine_view,
    ownership_compare,
    ownership_data,
    ownership_legend,
    ownership_map,
)
from tdxsim.plot.sept import entry_state, sept_state_machine, sept_transitions, sept_tree
from tdxsim.plot.streams import record_streams, stream_alt_text
from tdxsim.plot.style import show, to_png
from tdxsim.plot.timeline import call_timeline

__all__ = [
    "OwnershipView",
    "call_timeline",
    "entry_state",
    "machine_view",
    "mrtd_records",
    "mrtd_steps",
    "outcome_matrix",
    "ownership_compare",
    "ownership_data",
    "ownership_legend",
    "ownership_map",
    "record_streams",
    "sept_state_machine",
    "sept_transitions",
    "sept_tree",
    "show",
    "stream_alt_text",
    "to_png",
]
