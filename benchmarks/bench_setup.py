"""Benchmark: fresh clone -> JupyterLab ready, with pip against with uv, run side by side.

Each round copies the repository's tracked files into an empty folder and times, as a reader would meet them:

1. install: `bash tools/setup-venv notebooks` (what `tools/open-notebooks` runs: a venv in .venv and an editable
   install of `.[notebooks]`) three ways: with TDXSIM_INSTALLER=pip; with uv as a reader without it gets it (venv,
   pip installs uv into .venv, `uv pip install`); with uv already on PATH (`uv venv --seed`, `uv pip install`);
2. ready: `.venv/bin/jupyter lab` started on a free local port until /lab answers 200 (the server and the
   JupyterLab extension loaded).

"cold" rounds start from empty pip and uv caches (every package is fetched), "warm" rounds reuse the caches the
cold round filled. uv does not read pip's configuration, so this script passes pip's (`pip config list` and PIP_*:
index-url, extra-index-url, find-links, constraint, cert) to uv through its own UV_* variables, with pip's rule of
taking the best version across all indexes: both installers reach the same package indexes.

Run: python benchmarks/bench_setup.py [--rounds N] [--cold-only | --warm-only]  (minutes: each pip round ~1 min)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[1]
LOGS = REPO / "benchmarks" / "results"  # each round's installer and server output, for when a round fails


def pip_settings() -> dict[str, str]:
    """pip's effective settings, from `pip config list` (files, then PIP_* in the environment, which win)."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    settings: dict[str, str] = {}
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        if key.startswith(":env:."):
            continue  # the PIP_* variables, read below with their full spelling
        settings[key.split(".", 1)[-1]] = value.strip().strip("'\"")
    for name, value in os.environ.items():
        if name.startswith("PIP_"):
            settings[name[4:].lower().replace("_", "-")] = value
    return settings


def uv_environment(pip: dict[str, str]) -> dict[str, str]:
    """The UV_* variables that make uv use the package indexes and files pip is configured with."""
    env = {"UV_INDEX_STRATEGY": "unsafe-best-match", "UV_PYTHON_DOWNLOADS": "never"}
    if "index-url" in pip:
        env["UV_DEFAULT_INDEX"] = pip["index-url"]
    if "extra-index-url" in pip:
        env["UV_INDEX"] = " ".join(pip["extra-index-url"].split())
    if "find-links" in pip:
        env["UV_FIND_LINKS"] = ",".join(pip["find-links"].split())
    if "constraint" in pip:
        env["UV_CONSTRAINT"] = " ".join(pip["constraint"].split())
    if "cert" in pip:
        env["SSL_CERT_FILE"] = pip["cert"]
    if pip.get("no-index", "").lower() in ("1", "true", "yes", "on"):
        env["UV_NO_INDEX"] = "1"
    return env


def fresh_clone(root: Path) -> Path:
    """The repository's tracked files (as a fresh clone has them) under root/tdxsim."""
    clone = root / "tdxsim"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        src = REPO / name
        if src.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / name)
    return clone


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_ready(clone: Path, env: dict[str, str], log: IO[str]) -> float:
    """Seconds from starting `jupyter lab` until /lab answers 200; the server is stopped afterwards."""
    port = free_port()
    start = time.perf_counter()
    server = subprocess.Popen(
        [
            str(clone / ".venv" / "bin" / "jupyter"),
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--allow-root",  # harmless for a user; needed where benchmarks run as root (containers)
            f"--ServerApp.root_dir={clone / 'notebooks'}",
        ],
        cwd=clone,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {server.returncode} (log: {log.name})")
            if time.perf_counter() - start > 300:
                raise RuntimeError("jupyter lab did not answer within 300 s")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=2) as reply:
                    if reply.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.1)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


#: The ways tools/setup-venv can run: pip only; uv that it pip-installs into .venv (a reader without uv); uv already
#: on PATH (a reader who has it, e.g. from `brew install uv`), which also makes the venv (`uv venv --seed`).
VARIANTS = ("pip", "uv", "uv-on-path")


def path_without_uv() -> str:
    """PATH without any folder that holds a `uv`, so the "pip" and "uv" variants cannot find one there."""
    return os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "uv").exists())


def one_round(variant: str, caches: Path, extra_env: dict[str, str]) -> dict[str, float]:
    """Fresh clone -> installed -> JupyterLab answering, set up the `variant` way with the caches under `caches`."""
    with tempfile.TemporaryDirectory(prefix=f"bench-setup-{variant}-") as tmp:
        clone = fresh_clone(Path(tmp))
        env = {
            **os.environ,
            "PATH": path_without_uv(),
            **extra_env,
            "TDXSIM_INSTALLER": "pip" if variant == "pip" else "uv",
            "PIP_CACHE_DIR": str(caches / "pip"),
            "UV_CACHE_DIR": str(caches / "uv"),
            "JUPYTER_CONFIG_DIR": str(Path(tmp) / "jupyter-config"),
            "JUPYTER_RUNTIME_DIR": str(Path(tmp) / "jupyter-runtime"),
        }
        env.pop("PYTHONPATH", None)
        env.pop("VIRTUAL_ENV", None)
        with open(LOGS / f"{variant}-setup.log", "w") as log:
            start = time.perf_counter()
            setup = subprocess.run(
                ["bash", "tools/setup-venv", "notebooks"], cwd=clone, env=env, stdout=log, stderr=log
            )
            install = time.perf_counter() - start
            if setup.returncode:
                raise RuntimeError(f"tools/setup-venv failed (log: {log.name})")
        with open(LOGS / f"{variant}-jupyter.log", "w") as log:
            ready = time_ready(clone, env, log)
    return {"install": install, "ready": ready, "total": install + ready}


def uv_on_path(root: Path) -> str:
    """A folder holding only a `uv` (pip-installed into a venv of its own, untimed): the "uv-on-path" PATH head."""
    subprocess.run([sys.executable, "-m", "venv", str(root / "uv-venv")], check=True)
    subprocess.run(
        [str(root / "uv-venv" / "bin" / "python"), "-m", "pip", "install", "-q", "uv"],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    (root / "uv-bin").mkdir()
    (root / "uv-bin" / "uv").symlink_to(root / "uv-venv" / "bin" / "uv")
    return str(root / "uv-bin")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="rounds per variant and cache state")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--cold-only", action="store_true")
    which.add_argument("--warm-only", action="store_true", help="warm rounds on caches filled by one untimed round")
    args = parser.parse_args()
    LOGS.mkdir(exist_ok=True)

    uv_env = uv_environment(pip_settings())
    print("uv gets pip's configuration:", " ".join(f"{k}={v}" for k, v in sorted(uv_env.items())), flush=True)
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-setup-caches-") as caches_root:
        root = Path(caches_root)
        envs = {
            "pip": {},
            "uv": uv_env,
            "uv-on-path": {**uv_env, "PATH": uv_on_path(root) + os.pathsep + path_without_uv()},
        }
        caches = {variant: root / variant for variant in VARIANTS}
        states = ["cold"] if args.cold_only else ["warm"] if args.warm_only else ["cold", "warm"]
        if args.warm_only:
            for variant in VARIANTS:  # fill the caches
                one_round(variant, caches[variant], envs[variant])
        for state in states:
            for r in range(args.rounds):
                for variant in VARIANTS:  # side by side: alternate them
                    if state == "cold":
                        shutil.rmtree(caches[variant], ignore_errors=True)
                    t = one_round(variant, caches[variant], envs[variant])
                    results.setdefault(f"{state}/{variant}", []).append(t)
                    print(
                        f"{state:<5} {variant:<10} round {r + 1}: install {t['install']:6.1f} s   "
                        f"JupyterLab ready {t['ready']:5.1f} s   total {t['total']:6.1f} s",
                        flush=True,
                    )
    for state in states:
        best = {variant: min(t["total"] for t in results[f"{state}/{variant}"]) for variant in VARIANTS}
        print(
            f"{state}: fresh clone -> JupyterLab ready, best of {args.rounds}: "
            + ", ".join(f"{v} {best[v]:.1f} s ({best['pip'] / best[v]:.1f}x)" for v in VARIANTS)
        )
    (LOGS / "setup.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
