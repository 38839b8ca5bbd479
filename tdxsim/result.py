"""The one result type of every `Vmm` call: what the call returned and everything it caused.

A `Result` is the call's own values as a dict (`ret`, and per call `fd`, `addr`, `region`, `error_offset`, `data`,
`signal`, `exits`, `exception`, `hw_error`, `vm`), so `result["ret"]` works, plus the events the call recorded:

- `ret` and `errno` (the Linux errno name of a negative `ret`, None on success);
- `calls`: the call chain (layer, function, depth, return value), outermost first;
- `seamcalls`: each SEAMCALL with its leaf, GPA/level and TDX status name (compact MR.EXTEND runs expanded);
- `tdcalls`: each TDCALL the guest made with its status name;
- `changes`: the state changes (S-EPT entries, page owners, TD state, guest_memfd attributes), old -> new.

`repr()` is one line; in a notebook `_repr_html_` shows the SEAMCALLs and state changes as a table.
"""

from __future__ import annotations

from collections import Counter

from tdxsim.errno import errno_name
from tdxsim.events import Event, expand_seamcalls

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike)
if TYPE_CHECKING:
    from typing import Any


def _escape(text: str) -> str:
    """HTML-escape text for `_repr_html_` (the html module is not in the model's stdlib set)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Result(dict[str, "Any"]):  # "Any": typing is not imported at run time
    """The values one call returned (a dict) and the events it recorded (`events`)."""

    def __init__(self, op: str, values: dict[str, Any], events: list[Event]) -> None:
        super().__init__(values)
        self.op = op
        self.events = events

    @property
    def ret(self) -> int:
        """0 or -errno, as the system call returns it."""
        return int(self["ret"])

    @property
    def errno(self) -> str | None:
        """The errno name of a failed call ("EINVAL"), None on success."""
        return errno_name(self.ret) if self.ret < 0 else None

    @property
    def ok(self) -> bool:
        """True when the call returned 0 and no signal or exception reached the caller."""
        return self.ret == 0 and "signal" not in self and "exception" not in self

    @property
    def calls(self) -> list[dict[str, Any]]:
        """The call chain: one dict per function entered (layer, fn, depth, ret when it returned an int)."""
        return [
            {
                "layer": ev.layer,
                "fn": ev.name,
                "depth": ev.depth,
                **({"ret": ev.data["ret"]} if "ret" in ev.data else {}),
            }
            for ev in self.events
            if ev.kind == "call"
        ]

    @property
    def seamcalls(self) -> list[dict[str, Any]]:
        """Every SEAMCALL: leaf, gpa and level where the leaf takes them, status (a TDX status name) and code."""
        return list(expand_seamcalls(self.events))

    @property
    def tdcalls(self) -> list[dict[str, Any]]:
        """Every TDCALL the guest made: leaf, the event's operands and its status name."""
        return [{"leaf": ev.name, **ev.data} for ev in self.events if ev.kind == "tdcall"]

    @property
    def exits(self) -> list[dict[str, Any]]:
        """Exits to userspace recorded during the call (reason and payload)."""
        return [{"reason": ev.name, **ev.data} for ev in self.events if ev.kind == "exit"]

    @property
    def changes(self) -> list[dict[str, Any]]:
        """State changes in order: `what` (e.g. "sept", "owner", "td_state"), the layer, old, new and the key."""
        return [{"what": ev.name, "layer": ev.layer, **ev.data} for ev in self.events if ev.kind == "state"]

    def __repr__(self) -> str:
        counts = Counter(call["leaf"] for call in self.seamcalls)
        leaves = ", ".join(f"{leaf}×{n}" if n > 1 else leaf for leaf, n in counts.items())
        failed = [c["status"] for c in self.seamcalls if c["code"]]
        extra = {k: v for k, v in self.items() if k in ("fd", "addr", "signal", "exception", "vm")}
        parts = [f"ret={self.ret}"]
        if self.errno:
            parts.append(self.errno)
        parts += [f"{k}={hex(v) if k == 'addr' else v}" for k, v in extra.items()]
        if leaves:
            parts.append(f"SEAMCALLs: {leaves}")
        if failed:
            parts.append(f"failed: {', '.join(dict.fromkeys(failed))}")
        return f"<{self.op} {' '.join(parts)}>"

    def _repr_html_(self) -> str:
        rows = []
        for call in self.seamcalls:
            gpa = hex(call["gpa"]) if "gpa" in call else ""
            rows.append(f"<tr><td>SEAMCALL</td><td>{call['leaf']}</td><td>{gpa}</td><td>{call['status']}</td></tr>")
        for call in self.tdcalls:
            gpa = hex(call["gpa"]) if "gpa" in call else ""
            rows.append(f"<tr><td>TDCALL</td><td>{call['leaf']}</td><td>{gpa}</td><td>{call['status']}</td></tr>")
        for change in self.changes:
            key = ", ".join(
                f"{k}={hex(v) if isinstance(v, int) else v}"
                for k, v in change.items()
                if k not in ("what", "layer", "old", "new")
            )
            rows.append(
                f"<tr><td>{change['what']}</td><td>{_escape(key)}</td>"
                f"<td>{_escape(str(change.get('old')))}</td><td>{_escape(str(change.get('new')))}</td></tr>"
            )
        head = _escape(repr(self))
        if not rows:
            return f"<code>{head}</code>"
        return f"<details><summary><code>{head}</code></summary><table>{''.join(rows)}</table></details>"
