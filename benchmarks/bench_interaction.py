"""One interaction of the notebook's control panel, timed: flip in-place conversion → the calls run again and
the new figures are in the widgets (outcome HTML, ownership map PNG, S-EPT PNG).

Two sizes: a 4096-page TD (goal p95 ≤ 100 ms) and a 1M-page (4 GiB) TD whose ownership map has 1,048,576 GFNs
(goal p95 ≤ 250 ms). The first draw of each figure layout is reported separately (cold); the percentiles are over
the toggles after it. Run: python benchmarks/bench_interaction.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from tdxsim.seed import Toggles
from tdxsim.widgets import control_panel


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def bench(td_pages: int, rounds: int) -> tuple[float, float, float, float]:
    """(cold ms, p50 ms, p95 ms, max ms) of toggling in-place conversion on a TD of `td_pages` pages."""
    t0 = time.perf_counter()
    panel = control_panel(Toggles(td_pages=td_pages))
    toggle = panel.controls["in_place"]
    toggle.value = False  # first draw of the other layout (out-of-place has two GPA strips)
    cold = (time.perf_counter() - t0) * 1000 / 2
    times = []
    for i in range(rounds):
        t = time.perf_counter()
        toggle.value = bool(i % 2 == 0)
        times.append((time.perf_counter() - t) * 1000)
        assert panel.state.run is not None and len(panel.state.view.data.strips[0].owners) == td_pages
    return cold, statistics.median(times), percentile(times, 95), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    print(f"{'case':34} {'cold':>8} {'p50':>8} {'p95':>8} {'max':>8}  goal (p95)")
    for name, pages, goal in (("toggle, 4096-page TD", 4096, 100.0), ("toggle, 1M-page ownership map", 1 << 20, 250.0)):
        cold, p50, p95, worst = bench(pages, args.rounds)
        verdict = "met" if p95 <= goal else "MISSED"
        print(f"{name:34} {cold:7.1f}ms {p50:7.1f}ms {p95:7.1f}ms {worst:7.1f}ms  ≤ {goal:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
