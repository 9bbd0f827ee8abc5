import numpy as np

from hpcsketch.compressors.memory import Memory, NoMemory
from hpcsketch.compressors.topk import TopK


def test_error_feedback_accumulates_what_was_dropped(np_backend):
    c = TopK(10, {"k": 2}, np_backend, seed=0)
    m = Memory()
    g = np.arange(10, dtype=np.float32)
    p = m.compensate(g, client=3)
    payload = c.compress(p)
    m.update(p, 3, c, payload)
    assert list(m.residuals) == [3]  # only the client that used it
    np.testing.assert_allclose(m.residual(3), np.r_[np.arange(8), 0, 0])
    np.testing.assert_allclose(m.compensate(g, 3), g + np.r_[np.arange(8), 0, 0])
    assert m.residual(0) is None
    nm = NoMemory()
    assert nm.compensate(g, 1) is g and nm.update(g, 1, c, payload) is None and not nm.residuals
