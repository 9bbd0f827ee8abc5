"""Interface checks that hold for every registered compressor."""

import numpy as np
import pytest

from hpcsketch.compressors import REGISTRY

OPTS = {"blocks": 4, "k": 0.1, "ratio": 4}


@pytest.mark.parametrize("kind", REGISTRY.names())
def test_payload_contract(backend, kind):
    cls = REGISTRY.get(kind)
    d = 1000
    c = cls(d, OPTS, backend, seed=3)
    xp = backend.xp
    rng = np.random.default_rng(0)
    a = xp.asarray(rng.standard_normal(d).astype(np.float32))
    b = xp.asarray(rng.standard_normal(d).astype(np.float32))
    pa = c.compress(a, key=1)
    assert pa.nbytes == c.payload_nbytes()
    assert c.decompress(pa).shape == (d,)
    if c.linear:
        assert pa.dtype.kind == "f"
        pab = c.compress(a + b, key=1)
        assert float(xp.abs(pab - (pa + c.compress(b, key=1))).max()) < 1e-4 * float(xp.abs(pab).max())
    else:
        assert pa.dtype == xp.uint8 and pa.ndim == 1
    assert set(o.name for o in cls.options) <= {"k", "ratio", "rows", "cols", "levels", "shared_mask", "signs", "blocks"}


def test_shared_option_types_agree():
    seen = {}
    for cls in REGISTRY.all().values():
        for o in cls.options:
            assert seen.setdefault(o.name, o.type) == o.type, o.name


def test_resample_is_deterministic(np_backend):
    for kind in ("count_sketch", "subsampled_wht", "subsampled_dct", "gaussian", "perm_q", "randk"):
        opts = dict(OPTS, shared_mask=True)
        c1 = REGISTRY.get(kind)(500, opts, np_backend, seed=1)
        c2 = REGISTRY.get(kind)(500, opts, np_backend, seed=2)
        x = np.random.default_rng(0).standard_normal(500).astype(np.float32)
        assert not np.array_equal(c1.compress(x), c2.compress(x))
        c2.resample(1)
        assert np.array_equal(c1.compress(x), c2.compress(x))
