"""Linux's errno values, the ones the simulator returns: x86-64 uses the generic table
(include/uapi/asm-generic/errno-base.h and include/uapi/asm-generic/errno.h, via arch/x86/include/uapi/asm/errno.h).

Defined here once and never read from, or checked against, the host's `errno` module: the simulator models Linux,
and its results must not change on macOS (EAGAIN 35, EOPNOTSUPP 102), Windows or Pyodide (Emscripten's numbers).
Chapters, widgets and tests compare results with these names, e.g. `from tdxsim import errno; errno.EOPNOTSUPP`.
"""

EPERM = 1
ENOENT = 2
EINTR = 4
EIO = 5
E2BIG = 7
EBADF = 9
EAGAIN = 11
ENOMEM = 12
EFAULT = 14
EBUSY = 16
EEXIST = 17
ENODEV = 19
EINVAL = 22
ENOTTY = 25
ENOSPC = 28
EOPNOTSUPP = 95
EHWPOISON = 133

_NAMES = {v: k for k, v in globals().items() if k.startswith("E") and isinstance(v, int)}


def errno_name(err: int) -> str:
    """The symbolic name of a (positive or negative) errno, e.g. -22 -> "EINVAL"."""
    if abs(err) not in _NAMES:
        raise ValueError(f"errno {err} is not one the simulator returns ({', '.join(_NAMES.values())})")
    return _NAMES[abs(err)]
