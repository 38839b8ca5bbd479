"""Debian's Chromium for the browser tests (tests/browser/, tests/test_talk_export.py): where it is and how to start it.

The flags are for a root user on a machine with no network: Chromium refuses to run as root without --no-sandbox, and
the background-networking flags stop it from trying hosts it cannot reach.
"""

import os

CHROMIUM = os.environ.get("TDXSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
