"""Every problem: registered under its kind, declares its keys consistently."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hpcsketch.config.options import Option
from hpcsketch.problems import REGISTRY
from hpcsketch.problems.base import Problem
from hpcsketch.problems.models import MODELS
from hpcsketch.problems.torch_problem import TorchClassification

CORE_KEYS = {"kind", "model", "batch_size"}


@pytest.mark.parametrize("kind", REGISTRY.names())
def test_problem_class_is_complete(kind):
    cls = REGISTRY.get(kind)
    assert issubclass(cls, Problem) and cls.kind == kind
    assert len(cls.models) >= 1
    if issubclass(cls, TorchClassification):
        assert cls.classification and set(cls.models) <= set(MODELS)
    for opt in cls.options:
        assert isinstance(opt, Option) and opt.doc
        assert opt.name not in CORE_KEYS
        if opt.default is not None:
            assert opt.validate(opt.default)[1] is None, (kind, opt.name)


def test_a_key_has_one_type_everywhere():
    seen: dict[str, tuple] = {}
    for kind, cls in REGISTRY.all().items():
        for opt in cls.options:
            sig = (opt.type, tuple(opt.choices) if opt.choices else None)
            assert seen.setdefault(opt.name, sig) == sig, f"[problem] {opt.name} differs in {kind}"


def test_listing_problems_does_not_import_torch():
    code = "import sys, hpcsketch.problems as p; p.REGISTRY.names(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
