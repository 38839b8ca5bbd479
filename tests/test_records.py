"""`tdxsim.records.record` makes the class `dataclasses.dataclass` makes: each test declares one class both ways and
compares what they do, the standard library's being the reference. And `tdxsim mrtd` does not import
`dataclasses` (nor `inspect`, which it pulls in), the reason `record` exists."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from tdxsim import records
from tdxsim.tdvf import BFV, MR_EXTEND, TD_HOB, SectionSpec, build_tdvf_image


def both(body: str, **options: bool) -> tuple[type, type]:
    """The class `body` declares, once made by dataclasses.dataclass and once by records.record."""
    made = []
    for decorate, field in ((dataclasses.dataclass, dataclasses.field), (records.record, records.field)):
        scope = {"field": field, "decorate": decorate(**options) if options else decorate}
        exec("@decorate\nclass C:\n" + body, scope)
        made.append(scope["C"])
    return made[0], made[1]


FIELDS = """\
    a: int
    b: str = 'x'
    c: list = field(default_factory=list)
    d: int = field(default=7, repr=False)
"""


def test_init_defaults_repr_and_eq_as_dataclass() -> None:
    for cls in both(FIELDS):
        one, two = cls(1), cls(1, "y", [2], 3)
        assert (one.a, one.b, one.c, one.d) == (1, "x", [], 7)
        assert (two.a, two.b, two.c, two.d) == (1, "y", [2], 3)
        assert cls(a=1, d=3) == cls(1, "x", [], 3) and cls(1) != cls(2)
        assert cls(1).c is not cls(1).c  # a new list per instance
        assert repr(two).endswith("C(a=1, b='y', c=[2])")  # d has repr=False
        assert cls(1).__eq__(object()) is NotImplemented
        with pytest.raises(TypeError):
            cls()  # a is required
    reference, ours = both(FIELDS)
    assert ours.b == reference.b == "x" and ours.d == reference.d == 7  # class-level defaults
    assert not hasattr(ours, "c") and not hasattr(reference, "c")


def test_one_field_and_no_field() -> None:
    for cls in both("    a: int\n", frozen=True):
        assert repr(cls(5)).endswith("C(a=5)") and cls(5) == cls(5) != cls(6)
        assert hash(cls(5)) == hash((5,))  # the hash of the tuple of the fields
    for cls in both("    pass\n"):
        assert repr(cls()).endswith("C()") and cls() == cls()
        with pytest.raises(TypeError):
            cls(1)


def test_mutable_records_are_unhashable_and_frozen_ones_hash_by_value() -> None:
    for cls in both(FIELDS):
        assert cls.__hash__ is None
        with pytest.raises(TypeError):
            hash(cls(1))
    for cls in both("    a: int\n    b: str = 'x'\n", frozen=True):
        assert hash(cls(1, "y")) == hash((1, "y")) != hash((2, "y"))  # the hash of the tuple of the fields
        assert {cls(1), cls(1)} == {cls(1)}
        with pytest.raises(AttributeError, match=r"^cannot assign to field 'a'$"):  # FrozenInstanceError in both
            cls(1).a = 2
        with pytest.raises(AttributeError, match=r"^cannot delete field 'a'$"):
            del cls(1).a


def test_slots_and_post_init() -> None:
    body = "    a: int\n    b: int = 2\n    def __post_init__(self):\n        self.b += self.a\n"
    for cls in both(body, slots=True):
        obj = cls(1)
        assert obj.b == 3 and cls.__slots__ == ("a", "b") and not hasattr(obj, "__dict__")
        assert not hasattr(obj, "__weakref__")  # dataclass's slots=True keeps no weakref slot unless asked
        with pytest.raises(AttributeError):
            obj.other = 1


def test_a_slots_record_keeps_its_qualified_name() -> None:
    @dataclasses.dataclass(slots=True)
    class Reference:
        a: int

    @records.record(slots=True)
    class Ours:
        a: int

    assert Reference.__qualname__.endswith("<locals>.Reference") and Ours.__qualname__.endswith("<locals>.Ours")
    assert repr(Ours(1)).startswith(Ours.__qualname__) and repr(Reference(1)).startswith(Reference.__qualname__)


def test_class_and_init_variables_are_refused() -> None:
    """dataclasses leaves ClassVar and InitVar fields out of the record; `record` does not model them and refuses."""
    for annotation in ("ClassVar[int]", "InitVar[int]"):
        with pytest.raises(TypeError, match=r"^C: a record has no ClassVar or InitVar fields"):
            exec(f"@decorate\nclass C:\n    a: {annotation}\n", {"decorate": records.record})


def test_a_field_without_a_default_after_one_with_a_default_is_refused() -> None:
    for decorate in (dataclasses.dataclass, records.record):
        with pytest.raises(TypeError, match="'b'"):  # "non-default argument 'b' follows default argument"
            exec("@decorate\nclass C:\n    a: int = 1\n    b: int\n", {"decorate": decorate})


def test_mrtd_imports_no_dataclasses(tmp_path) -> None:
    """`dataclasses` imports `inspect` (~20 ms of CPU, benchmarks/bench_mrtd.py): neither is on the path of
    `tdxsim mrtd`, plain or with --expect over every loader variant."""
    data = bytes(range(256)) * 32
    image = tmp_path / "tdvf.fd"
    image.write_bytes(
        build_tdvf_image(
            [SectionSpec(BFV, (1 << 32) - len(data), len(data), MR_EXTEND, data), SectionSpec(TD_HOB, 0, 0x1000)]
        )
    )
    for extra in ([], ["--expect", "00" * 48]):
        code = (
            "import sys\nfrom tdxsim.cli import main\n"
            f"status = main(['mrtd', {str(image)!r}, *{extra!r}])\n"
            "print(status, 'dataclasses' in sys.modules, 'inspect' in sys.modules)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.splitlines()[-1] == f"{1 if extra else 0} False False", out
