import math

import pytest
from hypothesis import given, settings, strategies as st

from hpcsketch.config.options import Option, resolve_count


def test_int_bounds_and_types():
    o = Option("rounds", "int", 1, min=1)
    assert o.validate(5) == (5, None)
    assert o.validate(5.0) == (5, None)
    assert "out of range" in o.validate(0)[1]
    assert "expected an integer" in o.validate(2.5)[1]
    assert "expected an integer" in o.validate("5")[1]
    assert "expected an integer" in o.validate(True)[1]


def test_float_exclusive_min_and_nonfinite():
    o = Option("lr", "float", 0.1, min=0.0, min_exclusive=True)
    assert o.validate(1) == (1.0, None)
    assert "> 0" in o.validate(0.0)[1]
    assert "finite" in o.validate(math.inf)[1]
    assert "finite" in o.validate(math.nan)[1]


def test_choices_and_power_of_two():
    o = Option("backend", "str", "auto", choices=("auto", "numpy"))
    assert "expected one of 'auto', 'numpy'" in o.validate("gpu")[1]
    p = Option("n", "int", 8, power_of_two=True)
    assert p.validate(1024)[1] is None
    assert "power of two" in p.validate(1000)[1]


def test_number_or_fraction():
    o = Option("k", "number_or_fraction", 0.01)
    assert o.validate(0.5) == (0.5, None)
    assert o.validate(1.0) == (1.0, None)
    assert o.validate(7) == (7, None)
    assert o.validate(7.0) == (7, None)
    assert o.validate(2.5)[1] is not None
    assert o.validate(0)[1] is not None
    assert resolve_count(0.5, 10) == 5
    assert resolve_count(1.0, 10) == 10
    assert resolve_count(0.001, 10) == 1
    assert resolve_count(3, 10) == 3


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
def test_validate_never_raises(value):
    for o in (Option("a", "int", min=1), Option("b", "float", min=0.0, max=1.0), Option("c", "str", choices=("x",)),
              Option("d", "bool"), Option("e", "number_or_fraction"), Option("f", "list"), Option("g", "int", power_of_two=True)):
        norm, err = o.validate(value)
        assert err is None or isinstance(err, str)
