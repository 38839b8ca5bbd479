"""`record`: structs declared by their annotated fields, as with `dataclasses.dataclass`, without importing it.

`import dataclasses` imports `inspect`, and with it `ast`, `dis`, `tokenize` and `re`: about 20 ms of CPU, a quarter
of what `python -m tdxsim mrtd OVMF.fd` costs as a whole process, where a bare hashlib replay of the same records
costs 30 ms all told (benchmarks/bench_mrtd.py). So the structs of the modules that command imports (the core
layers and the TDVF parser) are records: `record` writes the same `__init__`, `__repr__` and `__eq__` as
`dataclass` from the class's annotations, in field order, and with `frozen=True` a `__setattr__` that refuses and
a field-wise `__hash__`; `slots=True` gives the class `__slots__`. Type checkers treat a record as a dataclass
(`dataclass_transform`, PEP 681).

Only what those modules use is here: `field(default=…, default_factory=…, repr=…)` and `__post_init__`. Not:
`fields()`, `asdict()`, `replace()`, ordering, `kw_only`, `InitVar`, `ClassVar` or fields inherited from a base
class. The rest of the package (lessons, figures, widgets) uses `dataclasses` itself.
"""

from __future__ import annotations

from operator import attrgetter

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform, overload

    _T = TypeVar("_T")

_MISSING = object()


class FrozenInstanceError(AttributeError):
    """An assignment to a field of a frozen record (dataclasses.FrozenInstanceError)."""


class Field:
    """A field's default, or the factory that makes it anew for each instance, and whether `repr` shows it."""

    __slots__ = ("default", "default_factory", "repr")

    def __init__(self, default: Any, default_factory: Callable[[], Any] | None, shown: bool) -> None:
        self.default, self.default_factory, self.repr = default, default_factory, shown


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] | None = None,
    repr: bool = True,  # noqa: A002 (dataclasses.field's name for it)
) -> Any:
    """dataclasses.field, for records: a default made anew per instance, or a field the repr leaves out."""
    return Field(default, default_factory, repr)


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of these fields' values (attrgetter gives a bare value for one name, and needs at least one)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _record_repr(self: Any) -> str:
    names, values = self._record_shown
    return f"{type(self).__qualname__}({', '.join(f'{n}={v!r}' for n, v in zip(names, values(self), strict=True))})"


def _record_eq(self: Any, other: Any) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return bool(self._record_values(self) == self._record_values(other))


def _record_hash(self: Any) -> int:
    return hash(self._record_values(self))


def _frozen_setattr(self: Any, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _build(cls: type, frozen: bool, slots: bool) -> type:
    annotations = vars(cls).get("__annotations__", {})  # strings, in declaration order (PEP 563)
    names = list(annotations)
    if any(str(annotations[name]).startswith(("ClassVar", "InitVar")) for name in names):
        raise TypeError(f"{cls.__name__}: a record has no ClassVar or InitVar fields (tdxsim/records.py)")
    scope: dict[str, Any] = {"_MISSING": _MISSING, "_set": object.__setattr__}
    params, body, shown = [], [], []
    for name in names:
        value = cls.__dict__.get(name, _MISSING)
        spec = value if isinstance(value, Field) else Field(value, None, True)
        if spec.default_factory is not None:
            scope[f"_factory_{name}"] = spec.default_factory
            params.append(f"{name}=_MISSING")
            expr = f"_factory_{name}() if {name} is _MISSING else {name}"
        elif spec.default is not _MISSING:
            scope[f"_default_{name}"] = spec.default
            params.append(f"{name}=_default_{name}")
            expr = name
        elif params and "=" in params[-1]:
            raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with a default")
        else:
            params.append(name)
            expr = name
        body.append(f"_set(self, {name!r}, {expr})" if frozen else f"self.{name} = {expr}")
        if spec.repr:
            shown.append(name)
        if slots or spec.default is _MISSING:
            if name in cls.__dict__:
                delattr(cls, name)  # a slot, or a field without a class-level default, as dataclass leaves it
        elif isinstance(value, Field):
            setattr(cls, name, spec.default)
    if "__post_init__" in cls.__dict__:
        body.append("self.__post_init__()")
    if slots:
        namespace = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
        namespace["__slots__"] = tuple(names)
        namespace["__qualname__"] = cls.__qualname__
        cls = type(cls)(cls.__name__, cls.__bases__, namespace)
    exec(f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"]), scope)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    # staticmethod: a one-field getter is a function, which the instance would otherwise bind as a method.
    cls._record_values = staticmethod(_getter(names))  # type: ignore[attr-defined]
    cls._record_shown = (tuple(shown), _getter(shown))  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[misc]
    cls.__repr__ = _record_repr  # type: ignore[method-assign, assignment]
    cls.__eq__ = _record_eq  # type: ignore[method-assign, assignment]
    if frozen:
        cls.__setattr__ = _frozen_setattr  # type: ignore[method-assign, assignment]
        cls.__delattr__ = _frozen_delattr  # type: ignore[method-assign, assignment]
        cls.__hash__ = _record_hash  # type: ignore[method-assign, assignment]
    else:
        cls.__hash__ = None  # type: ignore[assignment]  # as dataclass's: mutable and compared by value
    return cls


if TYPE_CHECKING:

    @overload
    @dataclass_transform(field_specifiers=(field,))
    def record(cls: type[_T], /) -> type[_T]: ...

    @overload
    def record(*, frozen: bool = False, slots: bool = False) -> Callable[[type[_T]], type[_T]]: ...


def record(cls: Any = None, /, *, frozen: bool = False, slots: bool = False) -> Any:
    """`@record`, `@record(frozen=True)` or `@record(slots=True)`: the class as `dataclass` would make it."""

    def make(c: type) -> type:
        return _build(c, frozen, slots)

    return make if cls is None else make(cls)
