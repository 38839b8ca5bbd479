"""Widgets for the notebooks (ipywidgets 8): each function builds and returns one widget.

The widget builders import ipywidgets and matplotlib only when first used. What they run is pure Python elsewhere
(`tdxsim.seed`, `tdxsim.lessons`); each can show the calls it made (`tdxsim.calls`).
"""

from typing import Any

__all__ = ["control_panel", "reveal", "seed_matrix", "step_player"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tdxsim.widgets import panel

        return getattr(panel, name)
    raise AttributeError(f"module 'tdxsim.widgets' has no attribute {name!r}")
