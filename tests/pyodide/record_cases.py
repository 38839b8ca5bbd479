"""A pytest plugin that records every scenario document the tests replay, with the test that replayed it.

`python -m pytest -p record_cases tests/test_seed_thread.py …` with TDXSIM_RECORD_CASES=OUT.json and this folder on
PYTHONPATH: the conformance tests run as usual (their asserts check CPython's outputs), and OUT.json lists the
documents, so core.py can replay the very same cases under Pyodide.
"""

from __future__ import annotations

import copy
import json
import os

import pytest

_cases: list[dict] = []
_current: list[str] = [""]


def pytest_configure(config: pytest.Config) -> None:
    import tdxsim.scenario

    replay = tdxsim.scenario.replay_scenario

    def recording_replay(doc):
        _cases.append({"test": _current[0], "doc": copy.deepcopy(doc)})
        return replay(doc)

    tdxsim.scenario.replay_scenario = recording_replay


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    _current[0] = item.nodeid
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    with open(os.environ["TDXSIM_RECORD_CASES"], "w", encoding="utf-8") as f:
        json.dump(_cases, f)
