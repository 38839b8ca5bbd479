"""`python -m tdxsim`: the command line (see tdxsim.cli).

SIGINT gets its handler before anything else is imported: an interrupt while the package is still importing ends
with one line and exit status 130, as it does later. (`_signal`, the C half of `signal`, is already loaded at
start-up, so installing the handler imports nothing; an interrupt before this file runs, during the interpreter's
own start-up, is Python's to report.)"""

import os

try:
    import _signal as signal  # type: ignore[import-not-found]  # CPython's C module ships no stub
except ImportError:  # an interpreter without CPython's _signal
    import signal


def _interrupted(signum: int, frame: object) -> None:
    try:  # noqa: SIM105 (no import in the signal window)
        os.write(2, b"tdxsim: interrupted\n")
    except OSError:
        pass
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted)

from tdxsim.cli import main  # noqa: E402

status = main()
# The process ends here, and its output is flushed: without this, interpreter shutdown would walk every object the
# run made in garbage collections that free nothing the exit does not (about 2.5 ms of `tdxsim mrtd OVMF.fd`'s 60,
# benchmarks/bench_mrtd.py). `gc` is built in: importing it costs nothing.
import gc  # noqa: E402

gc.freeze()
raise SystemExit(status)
