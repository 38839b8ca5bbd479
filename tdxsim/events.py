"""The one event record: every call chain, SEAMCALL, TDCALL, exit and state change, in order.

Each layer appends to the same `Trace`; figures, traces and tests all read `Trace.events`. A run of successful
TDH.MR.EXTENDs over consecutive 256-byte chunks is kept as one event with a `count` (docs/scenario.md allows a
compact record "as long as the output expands it"); `expand_seamcalls` expands it again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from types import FunctionType

from tdxsim.records import field, record

#: Layers, top to bottom; every event names one.
LAYERS = ("vmm", "guest", "kvm", "tdx", "mem")


@record(slots=True)
class Event:
    """One entry of the record: `kind` is call, seamcall, tdcall, exit, signal, state or ioctl.

    `ioctl` is a system call the VMM makes while handling an exit (QEMU's kvm_convert_memory); the steps a scenario
    lists are not in the record, they are its marks.
    """

    kind: str
    layer: str
    name: str
    depth: int
    data: dict[str, Any] = field(default_factory=dict)


#: The most events one machine records (docs/scenario.md "Limits"): about 2.5 KiB of memory each once a scenario's
#: output is built, so a run stays well inside 2 GiB and 30 s; a populated and measured page costs about 18.
MAX_EVENTS = 250_000


class TraceLimitError(RuntimeError):
    """The machine recorded MAX_EVENTS events: the run is stopped where it is (its state is then half-done)."""


class Trace:
    """An append-only event record shared by every layer of one simulated machine."""

    def __init__(self, enabled: bool = True, limit: int | None = None) -> None:
        #: False: record nothing (the `mrtd` command, which needs only the module's counters, runs faster). Fixed for
        #: the machine's life: `untraced` relies on it.
        self.enabled = enabled
        self.limit = MAX_EVENTS if limit is None else limit
        self.events: list[Event] = []
        self.depth = 0
        self._open: list[Event] = []

    def _append(self, ev: Event) -> None:
        if len(self.events) >= self.limit:
            raise TraceLimitError(
                f'the simulation recorded {self.limit} events, the limit (docs/scenario.md "Limits"); ask for less'
            )
        self.events.append(ev)

    def enter(self, layer: str, name: str, **data: Any) -> Event:
        """Record entry into a function of `layer`; pair with `leave`."""
        ev = Event("call", layer, name, self.depth, data)
        self._append(ev)
        self._open.append(ev)
        self.depth += 1
        return ev

    def leave(self, ret: Any = None) -> None:
        """Record the return of the innermost open call (ints are kept as `ret`)."""
        ev = self._open.pop()
        self.depth -= 1
        if isinstance(ret, int) and not isinstance(ret, bool):
            ev.data["ret"] = ret

    def annotate(self, **data: Any) -> None:
        """Attach arguments or results to the innermost open call."""
        if self.enabled and self._open:
            self._open[-1].data.update(data)

    def seamcall(self, leaf: str, status: str, code: int, **data: Any) -> None:
        """Record a SEAMCALL and the TDX module's status; consecutive successful MR.EXTENDs share one event."""
        if not self.enabled:
            return
        last = self.events[-1] if self.events else None
        if (
            code == 0
            and leaf == "TDH.MR.EXTEND"
            and last is not None
            and last.kind == "seamcall"
            and last.name == leaf
            and last.data["code"] == 0
            and last.depth == self.depth
            and data.get("gpa") == last.data["gpa"] + 256 * last.data["count"]
        ):
            last.data["count"] += 1
            return
        self._append(Event("seamcall", "tdx", leaf, self.depth, {"status": status, "code": code, "count": 1, **data}))

    def tdcall(self, leaf: str, status: str, code: int, **data: Any) -> None:
        """Record a TDCALL the guest made and its status."""
        if not self.enabled:
            return
        self._append(Event("tdcall", "guest", leaf, self.depth, {"status": status, "code": code, **data}))

    def state(self, layer: str, name: str, **data: Any) -> None:
        """Record a state change (`old`/`new` plus what changed: an S-EPT entry, a page owner, a TD state…)."""
        if not self.enabled:
            return
        self._append(Event("state", layer, name, self.depth, data))

    def emit(self, kind: str, layer: str, name: str, **data: Any) -> None:
        """Record any other event (an exit to userspace, a signal)."""
        if not self.enabled:
            return
        self._append(Event(kind, layer, name, self.depth, data))

    def since(self, mark: int) -> list[Event]:
        """The events recorded after `mark` (a former `len(trace.events)`)."""
        return self.events[mark:]


TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike)
if TYPE_CHECKING:
    from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

    class _HasTrace(Protocol):
        trace: Trace

    _S = TypeVar("_S", bound=_HasTrace)
    _P = ParamSpec("_P")
    _R = TypeVar("_R")


def traced(layer: str) -> Callable[[Callable[Concatenate[_S, _P], _R]], Callable[Concatenate[_S, _P], _R]]:
    """Decorate a method of an object with a `trace` attribute so each call and its return value are recorded."""

    def deco(fn: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
        name = fn.__name__

        @functools.wraps(fn)
        def wrapper(self: _S, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            trace = self.trace
            if not trace.enabled:
                return fn(self, *args, **kwargs)
            trace.enter(layer, name)
            ret = None
            try:
                ret = fn(self, *args, **kwargs)
                return ret
            finally:
                trace.leave(ret)

        wrapper.__traced__ = fn  # type: ignore[attr-defined]  # what `untraced` binds
        return wrapper

    return deco


def untraced(obj: _HasTrace) -> None:
    """When `obj`'s trace records nothing (`enabled` is fixed when the machine is made), bind each of its `traced`
    methods' own function on the instance, so a call skips the wrapper's frame; the calls themselves are unchanged."""
    if obj.trace.enabled:
        return
    for cls in reversed(type(obj).__mro__):
        for name, attr in vars(cls).items():
            fn = getattr(attr, "__traced__", None) if isinstance(attr, FunctionType) else None  # plain methods only
            if fn is not None:
                setattr(obj, name, fn.__get__(obj))


def expand_seamcalls(events: list[Event]) -> Iterator[dict[str, Any]]:
    """Yield one dict per SEAMCALL (leaf, gpa, level, status, code), expanding compact MR.EXTEND runs."""
    for ev in events:
        if ev.kind != "seamcall":
            continue
        d = ev.data
        for i in range(d["count"]):
            out: dict[str, Any] = {"leaf": ev.name}
            if "gpa" in d:
                out["gpa"] = d["gpa"] + 256 * i
            if "level" in d:
                out["level"] = d["level"]
            out["status"] = d["status"]
            out["code"] = d["code"]
            yield out
