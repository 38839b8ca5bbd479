"""`python -m tdxsim`: the command line (see tdxsim.cli).

SIGINT gets its handler before anything else is imported: an interrupt while the package is still importing ends
with one line and exit status 130, as it does later. (`_signal`, the C half of `signal`, is already loaded at
start-up, so installing the handler imports nothing.) An interrupt that lands in this file before the handler is in
place raises KeyboardInterrupt inside the `try` below and ends the same way; nothing before that `try` runs Python
code that could raise it (`os` is already loaded). One before this file runs, during the interpreter's own start-up
(site, runpy), is Python's to report."""

import os


def _interrupted(signum: int, frame: object) -> None:
    try:  # noqa: SIM105 (no import in the signal window)
        os.write(2, b"tdxsim: interrupted\n")
    except OSError:
        pass
    os._exit(130)


try:
    try:
        import _signal as signal  # type: ignore[import-not-found]  # CPython's C module ships no stub
    except ImportError:  # an interpreter without CPython's _signal
        import signal
    signal.signal(signal.SIGINT, _interrupted)
except KeyboardInterrupt:
    _interrupted(2, None)  # SIGINT; `signal` may not be bound yet

from tdxsim.cli import main  # noqa: E402

status = main()
# The process ends here, and its output is flushed: without this, interpreter shutdown would walk every object the
# run made in garbage collections that free nothing the exit does not (about 2.5 ms of `tdxsim mrtd OVMF.fd`'s 60,
# benchmarks/bench_mrtd.py). `gc` is built in: importing it costs nothing.
import gc  # noqa: E402

gc.freeze()
raise SystemExit(status)
