"""Registry entries (declarations) and implementation classes agree, and a class cannot drift from its entry."""

from __future__ import annotations

import pytest

from hpcsketch.algorithms import REGISTRY as ALGORITHMS
from hpcsketch.compressors import REGISTRY as COMPRESSORS
from hpcsketch.compressors.declarations import CompressorDecl
from hpcsketch.config.options import Option
from hpcsketch.config.schema import registry_for
from hpcsketch.problems import REGISTRY as PROBLEMS
from hpcsketch.registry import Declaration, Registry
from hpcsketch.topology import REGISTRY as TOPOLOGIES

REGISTRIES = {"algorithm": ALGORITHMS, "compressor": COMPRESSORS, "problem": PROBLEMS, "topology": TOPOLOGIES}


@pytest.mark.parametrize("section", list(REGISTRIES))
def test_every_class_carries_its_declaration(section):
    reg = REGISTRIES[section]
    assert registry_for(section).names() == reg.names()
    for kind in reg.names():
        decl = registry_for(section).get(kind)
        assert decl is reg.declaration(kind) and decl.kind == kind
        cls = reg.get(kind)
        for attr in decl.class_attrs:
            value = cls.__dict__.get(attr)
            if isinstance(value, property):
                continue
            assert getattr(cls, attr) == getattr(decl, attr), (kind, attr)


def test_compressor_flags_are_what_instances_do(np_backend):
    for kind in COMPRESSORS.names():
        decl = COMPRESSORS.declaration(kind)
        for opts in ({}, {"shared_mask": True}):
            c = COMPRESSORS.get(kind)(256, {"blocks": 4, **opts}, np_backend, seed=1)
            for flag in ("linear", "unbiased", "contractive"):
                said = getattr(decl, flag)
                expected = bool(opts.get(said, False)) if isinstance(said, str) else said
                assert bool(getattr(c, flag)) == expected, (kind, flag, opts)


def test_problem_capabilities_match_the_code():
    for kind in PROBLEMS.names():
        decl, cls = PROBLEMS.declaration(kind), PROBLEMS.get(kind)
        assert decl.has_diag_hessian == hasattr(cls, "diag_hessian")
        assert decl.has_dense_layers == hasattr(cls, "dense_layers")
        assert decl.has_hvp == bool(cls.has_hvp)


# -- the binding rules, on a registry of this module's own classes --------------------------------


class _Base:
    kind = ""
    options: tuple = ()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        _REG.bind(cls)


X = Option("x", "int", 1, "a key")
_REG = Registry("thing", {
    "plain": Declaration(f"{__name__}:Plain", options=(X,)),
    "drifting": Declaration(f"{__name__}:Drifting", options=(X,)),
})


class Plain(_Base):
    pass


def test_a_registered_class_gets_kind_and_keys_from_its_entry():
    assert Plain.kind == "plain" and Plain.options == (X,)

    class Unregistered(Plain):  # a subclass no entry names inherits, and is left alone
        options = ()

    assert Unregistered.kind == "plain" and Unregistered.options == ()


def test_a_registered_class_may_not_declare_again():
    with pytest.raises(TypeError, match="declared in the thing registry"):
        type("Drifting", (_Base,), {"__module__": __name__, "options": (Option("y", "int", 1, "other"),)})


def test_a_key_flag_needs_the_class_property():
    reg = Registry("c", {"k": CompressorDecl(f"{__name__}:Flagged", options=(X,), linear="x")})
    with pytest.raises(TypeError, match="needs a linear property"):
        reg.bind(type("Flagged", (), {"__module__": __name__}))


def test_an_entry_must_name_module_and_class():
    with pytest.raises(ValueError):
        Declaration("no_colon")
    with pytest.raises(TypeError):
        Registry("thing", {"k": "module:Class"})  # a bare string is no declaration
