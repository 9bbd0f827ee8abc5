"""The problem interface: what the algorithms optimise.

A problem owns the data (already partitioned over the ``n`` logical clients),
the model and its loss. Parameters travel as one flat vector ``x`` of shape
``(d,)`` in the run's array module (NumPy or CuPy); torch problems keep their
parameters and gradients as *views* of flat buffers so no copy is made between
torch and the array module.

Every call that draws data takes an integer ``key`` (see ``hpcsketch.seeding``)
so that a client's minibatches depend only on the job seed, the round, the
client and the local step, never on the rank that hosts the client.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from hpcsketch.backend import Backend
from hpcsketch.config.options import Option


class Problem(ABC):
    # Declared in the problem's registry entry (hpcsketch.problems.REGISTRY, see
    # ProblemDecl: its [problem] keys beyond kind, model and batch_size, the values
    # ``model`` may take) and set on the class when it is defined; these are the
    # defaults of classes no entry names.
    kind: ClassVar[str] = ""
    models: ClassVar[Sequence[str]] = ("",)
    options: ClassVar[Sequence[Option]] = ()
    #: True when ``evaluate`` reports an accuracy
    classification: ClassVar[bool] = False

    dim: int
    dtype: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from hpcsketch.problems import REGISTRY

        REGISTRY.bind(cls)

    def __init__(self, opts: Mapping[str, Any], clients: Mapping[str, Any], backend: Backend, seed: int):
        self.opts = dict(opts)
        self.clients_opts = dict(clients)
        self.backend = backend
        self.xp = backend.xp
        self.seed = int(seed)
        self.num_clients = int(clients["count"])

    @abstractmethod
    def init_params(self) -> Any:
        """Initial flat parameters, (d,), deterministic in the job seed."""

    @abstractmethod
    def loss_grad(self, x: Any, client: int, key: int) -> tuple[Any, Any]:
        """Minibatch loss and stochastic gradient of client ``client``'s loss at ``x``.

        The minibatch (``batch_size`` samples of the client's data; the whole of it
        when batch_size is 0 or larger than the client's data) is drawn with ``key``.
        Returns ``(loss, grad)``: ``loss`` a float or 0-d array, ``grad`` a (d,)
        array that the problem may reuse on the next call (copy it to keep it).
        """

    @abstractmethod
    def evaluate(self, x: Any, part: int = 0, nparts: int = 1) -> dict[str, float]:
        """Sums over part ``part`` of ``nparts`` of the held-out set.

        Returns ``{"loss_sum", "count"}`` and, for classification, ``"correct"``; the
        caller adds the parts over ranks and divides, so every part must be disjoint
        and together cover the whole held-out set.
        """

    def client_sizes(self) -> np.ndarray:
        """Number of training samples each client holds (n,)."""
        raise NotImplementedError

    #: True when :meth:`hvp` is implemented (``[hessian]`` measurements need it; the
    #: registry entry declares it too, and the two are checked to agree)
    has_hvp: ClassVar[bool] = False

    def hvp(self, x: Any, v: Any, part: int = 0, nparts: int = 1, *, batch: int = 0, data: float | int = 1.0) -> Any:
        """Part ``part`` of ``nparts`` of ``H v``, H the Hessian at ``x`` of the training objective
        f(x) = mean_i f_i(x), f_i client i's mean loss over its training data (no minibatch
        sampling, augmentation, dropout, gradient noise or weight decay).

        The parts are disjoint and fixed by the data alone, so their sum is H v whatever
        ``nparts`` is (up to summation order). ``batch`` bounds the samples per forward pass
        (0: all of the part's at once, the data split evenly over the parts); ``data`` keeps a fraction in (0, 1] of each client's
        samples, or a count >= 1 of them, drawn once from the job seed. Problems without data
        to sample ignore both. Returns a (d,) array of the backend.
        """
        raise NotImplementedError(f"problem {self.kind!r} has no Hessian-vector product")

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "dim": int(self.dim), **{k: v for k, v in self.opts.items() if isinstance(v, (int, float, str, bool))}}
