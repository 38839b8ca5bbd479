"""Run every benchmark in this folder, one after the other: python benchmarks/run.py

bench_setup.py is among them: it installs the notebook stack several times over from the package index (minutes).
"""

import subprocess
import sys
from pathlib import Path

for bench in sorted(Path(__file__).parent.glob("bench_*.py")):
    print(f"== {bench.name}", flush=True)
    subprocess.run([sys.executable, str(bench)], check=True)
