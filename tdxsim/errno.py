"""Linux errno values (x86-64, include/uapi/asm-generic/errno-base.h and errno.h) the simulator returns."""

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
