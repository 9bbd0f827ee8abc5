"""The algorithm interface.

An algorithm is a small object with explicit state (model, residuals, momenta,
control variates) that runs one communication round at a time through the
RunContext. It is the same object on one process and on many ranks; only the
clients it hosts differ.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

import numpy as np

from hpcsketch.algorithms.context import RunContext
from hpcsketch.config.options import Option


class Algorithm(ABC):
    # Declared in the method's registry entry (hpcsketch.algorithms.REGISTRY, see
    # AlgorithmDecl) and set on the class when it is defined; these are the defaults
    # of classes no entry names.
    kind: ClassVar[str] = ""
    options: ClassVar[Sequence[Option]] = ()
    compressors: ClassVar[Sequence[str] | None] = ("none",)
    compressor_requires: ClassVar[Sequence[str]] = ()
    reads: ClassVar[Sequence[str]] = ()
    decentralized: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from hpcsketch.algorithms import REGISTRY

        REGISTRY.bind(cls)

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.opts = ctx.job.algorithm
        self.xp = ctx.xp
        self.problem = ctx.problem
        self.comm = ctx.comm
        self.timer = ctx.timer
        self.metrics = ctx.metrics
        self.d = int(ctx.problem.dim)
        self.x = ctx.problem.init_params()

    def start(self) -> None:
        """Collective set-up once every rank has built its state (the constructor is local).

        Every rank starts from rank 0's model, whatever each rank's torch or BLAS did.
        """
        with self.comm.category("setup"):
            self.comm.bcast(self.x)

    @abstractmethod
    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        """Run round ``t`` with the sampled client ids (all ranks) and this rank's share."""

    def diagnostics(self, t: int) -> None:
        """Metrics that need communication of their own (e.g. consensus distance).

        Called after round ``t`` outside its timing, under the comm category
        "diagnostic" so its bytes are not counted as the method's.
        """

    def model(self) -> Any:
        """The model the server would evaluate (for decentralized methods: this node's)."""
        return self.x

    def evaluate(self) -> dict[str, float]:
        """Held-out metrics of :meth:`model`, the test set split over the ranks."""
        return evaluate_distributed(self.problem, self.comm, self.model())

    def trace_attrs(self) -> dict[str, Any]:
        """Root attributes this method adds to the trace (rank 0, at set-up; e.g. a topology's spectral gap)."""
        return {}

    # -- checkpointing ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"x": self.x}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.x[...] = self.xp.asarray(state["x"])

    # -- shared pieces ---------------------------------------------------------------
    def client_gradient(self, x: Any, client: int, t: int, step: int = 0) -> Any:
        """Stochastic gradient of ``client`` at ``x`` (plus weight decay); records the loss."""
        loss, grad = self.problem.loss_grad(x, client, self.ctx.key("batch", t, client, step))
        wd = self.opts.weight_decay
        if wd:
            grad += wd * x
        if step == 0:
            self.metrics.add("loss", loss, "mean")
        return grad

    def record_traffic(self, n_clients: int, uplink_bytes: int, downlink_bytes_per_client: int | None = None,
                       downlink_bytes: int | None = None) -> None:
        """Federated-view bytes: ``uplink_bytes`` uploaded in all by this rank's ``n_clients``
        participating clients, and what each downloads (default: the model); ``downlink_bytes``
        gives the downloads' total instead when clients download different amounts."""
        self.metrics.add("bytes_uplink", float(uplink_bytes))
        if downlink_bytes is None:
            down = self.d * self.x.dtype.itemsize if downlink_bytes_per_client is None else downlink_bytes_per_client
            downlink_bytes = n_clients * down
        self.metrics.add("bytes_downlink", float(downlink_bytes))
        self.metrics.add("clients", float(n_clients))


class HeavyBall:
    """Mixin for an Algorithm: an optional heavy-ball buffer m <- beta m + v (beta = ``[algorithm] momentum``).

    Put it before Algorithm in the bases; call :meth:`init_momentum` in ``__init__``.
    The buffer is checkpointed as ``"m"``.
    """

    m: Any

    def init_momentum(self) -> None:
        self.m = self.xp.zeros_like(self.x) if self.opts.momentum else None  # type: ignore[attr-defined]

    def heavy_ball(self, v: Any) -> Any:
        """``v`` itself without momentum; else the updated buffer m."""
        if self.m is None:
            return v
        self.m *= self.opts.momentum  # type: ignore[attr-defined]
        self.m += v
        return self.m

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), **({"m": self.m} if self.m is not None else {})}  # type: ignore[misc]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)  # type: ignore[misc]
        if self.m is not None:
            self.m[...] = self.xp.asarray(state["m"])  # type: ignore[attr-defined]


def evaluate_distributed(problem: Any, comm: Any, x: Any, prefix: str = "eval_") -> dict[str, float]:
    """Each rank evaluates a disjoint part of the held-out set; the sums are combined.

    ``loss_sum / count`` becomes ``eval_loss``, ``correct / count`` ``eval_accuracy``;
    any other key a problem reports is summed over the parts as it is.
    """
    part = problem.evaluate(x, comm.rank, comm.size)
    with comm.category("eval"):
        parts = comm.allgather_object({k: float(v) for k, v in part.items()})
    return summarize_parts(parts, prefix)


def summarize_parts(parts: list[dict[str, float]], prefix: str = "eval_") -> dict[str, float]:
    """Held-out sums of disjoint parts (see :meth:`Problem.evaluate`) as eval metrics."""
    total: dict[str, float] = {}
    for p in parts:
        for k, v in p.items():
            total[k] = total.get(k, 0.0) + v
    count = total.pop("count", 0.0)
    out: dict[str, float] = {}
    if "loss_sum" in total:
        out[prefix + "loss"] = total.pop("loss_sum") / count if count else float("nan")
    if "correct" in total:
        out[prefix + "accuracy"] = total.pop("correct") / count if count else float("nan")
    for k, v in total.items():
        out[prefix + k] = v
    return out
