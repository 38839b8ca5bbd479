"""A map from integer ranges to values, merged where neighbours are equal: the kernel's xarray/maple tree stand-in.

Cost follows the number of ranges, not their length, so describing or converting a 64 GiB guest stays cheap.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike)
if TYPE_CHECKING:
    from typing import Any


class RangeMap:
    """Half-open ranges [start, end) -> value; unset indices read as `default`."""

    def __init__(self, default: Any = None) -> None:
        self.default = default
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._values: list[Any] = []

    def __len__(self) -> int:
        return len(self._starts)

    def get(self, index: int) -> Any:
        """The value at `index`."""
        i = bisect.bisect_right(self._starts, index) - 1
        if i >= 0 and index < self._ends[i]:
            return self._values[i]
        return self.default

    def items(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, Any]]:
        """(start, end, value) for every stored range overlapping [start, end), clipped to it; gaps are skipped."""
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        while i < len(self._starts):
            s, e, v = self._starts[i], self._ends[i], self._values[i]
            if end is not None and s >= end:
                break
            if e > start:
                yield max(s, start), e if end is None else min(e, end), v
            i += 1

    def segments(self, start: int, end: int) -> Iterator[tuple[int, int, Any]]:
        """(start, end, value) covering [start, end) completely, gaps reported with the default value."""
        pos = start
        for s, e, v in self.items(start, end):
            if s > pos:
                yield pos, s, self.default
            yield s, e, v
            pos = e
        if pos < end:
            yield pos, end, self.default

    def all_equal(self, start: int, end: int, value: Any) -> bool:
        """Whether every index in [start, end) reads as `value`."""
        return all(v == value for _, _, v in self.segments(start, end))

    def set(self, start: int, end: int, value: Any) -> None:
        """Set [start, end) to `value` (the default value erases), merging with equal neighbours."""
        if start >= end:
            return
        lo = bisect.bisect_left(self._ends, start)
        hi = bisect.bisect_right(self._starts, end)
        keep: list[tuple[int, int, Any]] = []  # (start, end, value) of the ranges that stay
        for i in range(lo, hi):
            s, e, v = self._starts[i], self._ends[i], self._values[i]
            if (e <= start or s >= end) and (e < start or s > end or v != value):
                keep.append((s, e, v))
                continue
            if s < start:
                if v == value:
                    start = s
                else:
                    keep.append((s, start, v))
            if e > end:
                if v == value:
                    end = e
                else:
                    keep.append((end, e, v))
        if value != self.default:
            keep.append((start, end, value))
        keep.sort(key=lambda kept: kept[0])
        self._starts[lo:hi] = [s for s, _, _ in keep]
        self._ends[lo:hi] = [e for _, e, _ in keep]
        self._values[lo:hi] = [v for _, _, v in keep]


def keys_in_range(table: Mapping[int, object], start: int, end: int) -> list[int]:
    """The keys of `table` in [start, end), sorted, at a cost of min(len(range), len(table)) lookups: a small range
    of a big table probes the range, a big range of a small table scans the table."""
    if end - start <= len(table):
        return [k for k in range(start, end) if k in table]
    return sorted(k for k in table if start <= k < end)
