"""A classification problem over a torch model and in-memory tensors.

The data go to the device once, in client order (client c's samples are rows
``offsets[c]:offsets[c+1]``), so a full-batch gradient reads a slice and a
minibatch is one ``index_select``. Parameters and gradients are views of flat
buffers (:mod:`hpcsketch.problems.flat`) shared with the run's array module:
``loss_grad`` copies ``x`` in only when ``x`` is not already that buffer and
returns the gradient buffer itself.

The hot path (``loss_grad``) allocates nothing beyond the minibatch and
autograd's own temporaries and never waits for the device: the loss comes back
as a 0-d array of the backend, not a Python float.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Mapping

import numpy as np

from hpcsketch import seeding
from hpcsketch._lazy import lazy_import
from hpcsketch.backend import Backend
from hpcsketch.data import datasets
from hpcsketch.data.partition import partition
from hpcsketch.problems.base import Problem
from hpcsketch.problems.options import batch_size, model_name, read_options

torch = lazy_import("torch")  # loaded when a torch problem is built, not when job files are validated


def _elementwise() -> tuple[type, ...]:
    """Modules that act elementwise (or only reshape the input), allowed between the layers of a dense chain."""
    nn = torch.nn
    return (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.ELU, nn.Identity, nn.Dropout)


def same_buffer(a: Any, b: Any) -> bool:
    """True when arrays ``a`` and ``b`` are the same memory (same start, size and type)."""
    if a is b:
        return True
    if type(a) is not type(b) or a.shape != b.shape or a.dtype != b.dtype:
        return False
    if isinstance(a, np.ndarray):
        return bool(a.__array_interface__["data"][0] == b.__array_interface__["data"][0]) and a.strides == b.strides
    return bool(a.data.ptr == b.data.ptr) and a.strides == b.strides


class Sampler:
    """``k`` of ``n`` positions without replacement, a function of ``key`` alone.

    Small populations use a torch CPU generator reseeded from the key on every call
    (``randperm``: a few microseconds, and it keeps the hot loop inside torch; a NumPy
    generator built per call cost 30-80 us here once the forward/backward had evicted
    it from the caches). Large ones use ``seeding.rng`` (Floyd's method: O(k), where
    ``randperm`` would be O(n)). Either way nothing carries over between calls.
    """

    #: populations up to this size use randperm
    small = 2048

    def __init__(self) -> None:
        self._gen = torch.Generator()

    def sample(self, key: int, n: int, k: int) -> torch.Tensor:
        """int64 CPU tensor of ``k`` distinct positions in ``range(n)``."""
        if n <= self.small:
            # mt19937 takes 32 seed bits: fold the key's 63 bits into them.
            self._gen.manual_seed((key ^ (key >> 32)) & 0xFFFFFFFF)
            return torch.randperm(n, generator=self._gen)[:k]
        return torch.from_numpy(seeding.rng(key, "batch").choice(n, k, replace=False))


class TorchClassification(Problem):
    """Cross-entropy classification; subclasses say where the data come from."""

    classification = True
    #: rows per evaluation batch; evaluation batches are fixed blocks of the test set
    #: and parts are runs of whole blocks, so batch statistics (BatchNorm without
    #: running stats) do not depend on the number of parts
    eval_batch: ClassVar[int] = 1000

    @abstractmethod
    def load_dataset(self) -> datasets.Dataset:
        """The data set (called once, from the constructor; ``self.values`` holds the options)."""

    def __init__(self, opts: Mapping[str, Any], clients: Mapping[str, Any], backend: Backend, seed: int):
        super().__init__(opts, clients, backend, seed)
        self.values = read_options(self.options, self.opts)
        self.model_name = model_name(self.kind, self.models, self.opts)
        self.batch_size = batch_size(self.opts)
        ds = self.load_dataset()
        self.dataset_info = datasets.describe(ds)
        self.num_classes = ds.num_classes

        parts = partition(ds.y_train, self.clients_opts, self.seed)
        self._sizes = np.array([len(p) for p in parts], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(self._sizes)]).astype(np.int64)
        order = np.concatenate(parts)
        dev = backend.torch_device
        self.device = dev
        self._cuda = dev.type == "cuda"
        self.x_train = torch.from_numpy(np.ascontiguousarray(ds.x_train[order])).to(dev)
        self.y_train = torch.from_numpy(ds.y_train[order]).to(dev)
        self.x_test = torch.from_numpy(np.ascontiguousarray(ds.x_test)).to(dev)
        self.y_test = torch.from_numpy(ds.y_test).to(dev)
        self._mean = None if ds.mean is None else torch.from_numpy(ds.mean).to(dev)
        self._inv_std = None if ds.std is None else torch.from_numpy(1.0 / ds.std).to(dev)

        from hpcsketch.problems import models
        from hpcsketch.problems.flat import FlatParams

        # Initial weights depend on the job seed only; fork_rng leaves the caller's RNG alone.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seeding.derive(self.seed, "init"))
            # a problem declaring [problem] hidden sets the MLP's width
            width = {"hidden": self.values["hidden"]} if self.model_name == "mlp" and "hidden" in self.values else {}
            model = models.build(self.model_name, ds.input_shape, ds.num_classes, **width)
        self.model: torch.nn.Module = model
        self.flat = FlatParams(model, dev, torch.float32)
        self.dim = self.flat.dim
        self.dtype = self.xp.float32
        self._initial = self.flat.params.detach().clone()
        self._x = backend.from_torch(self.flat.params)
        self._g = backend.from_torch(self.flat.grads)
        # Only models that draw random numbers in forward need the torch RNG seeded per call.
        self._seed_torch = any(isinstance(m, torch.nn.modules.dropout._DropoutNd) for m in model.modules())
        self._training: bool | None = None
        self._sampler = Sampler()

    # -- the interface -------------------------------------------------------------------
    def init_params(self) -> Any:
        return self.xp.array(self.backend.from_torch(self._initial))

    def client_sizes(self) -> np.ndarray:
        return self._sizes.copy()

    def loss_grad(self, x: Any, client: int, key: int) -> tuple[Any, Any]:
        self.load(x)
        inputs, targets = self.batch(client, key)
        self._set_mode(True)
        if self._seed_torch:
            torch.manual_seed(seeding.derive(key, "torch"))
        self.flat.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.model(inputs), targets)
        loss.backward()
        return self.backend.from_torch(loss), self._g

    def evaluate(self, x: Any, part: int = 0, nparts: int = 1) -> dict[str, float]:
        if not 0 <= part < nparts:
            raise ValueError(f"part {part} is not in 0..{nparts - 1}")
        self.load(x)
        self._set_mode(False)
        n = len(self.y_test)
        eb = self.eval_batch
        blocks = -(-n // eb)
        lo_block, hi_block = part * blocks // nparts, (part + 1) * blocks // nparts
        lo, hi = lo_block * eb, min(n, hi_block * eb)
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        with torch.no_grad():
            for start in range(lo, hi, eb):
                stop = min(hi, start + eb)
                out = self.model(self.prepare(self.x_test[start:stop], None))
                y = self.y_test[start:stop]
                loss_sum += torch.nn.functional.cross_entropy(out, y, reduction="sum").double()
                correct += (out.argmax(dim=1) == y).sum()
        return {"loss_sum": float(loss_sum), "correct": float(correct), "count": float(max(0, hi - lo))}

    # -- pieces for algorithms that need more than a gradient ----------------------------
    def load(self, x: Any) -> None:
        """Make ``x`` the model's parameters (no copy when ``x`` is the flat buffer)."""
        if not same_buffer(x, self._x):
            self._x[...] = x

    @property
    def params(self) -> Any:
        """The model's flat parameters as an array of the backend (the live buffer)."""
        return self._x

    def dense_layers(self) -> list["DenseLayer"]:
        """The model's fully connected layers in order, as offsets into the flat vector, when the
        model is a chain of Linear layers with elementwise activations between them (after an
        optional leading Flatten): what IST's ``neurons`` sketch splits. ValueError otherwise."""
        from hpcsketch.problems.flat import DenseLayer

        nn = torch.nn
        mods = list(self.model.children()) if isinstance(self.model, nn.Sequential) else []
        if mods and isinstance(mods[0], nn.Flatten):
            mods = mods[1:]
        if not mods or not all(isinstance(m, (nn.Linear, *_elementwise())) for m in mods):
            raise ValueError(f"model {self.model_name!r} is not a chain of fully connected layers")
        # FlatParams lays the parameters out in named_parameters() order
        offset = {id(p): off for p, off in zip(self.model.parameters(), self.flat.offsets)}
        return [DenseLayer(offset[id(m.weight)], m.out_features, m.in_features, offset[id(m.bias)] if m.bias is not None else -1)
                for m in mods if isinstance(m, nn.Linear)]

    def client_data(self, client: int) -> tuple[torch.Tensor, torch.Tensor]:
        """All of client ``client``'s training inputs (standardised, not augmented) and targets."""
        off, size = int(self._offsets[client]), int(self._sizes[client])
        return self.prepare(self.x_train[off : off + size], None), self.y_train[off : off + size]

    def batch(self, client: int, key: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs (prepared: standardised, augmented) and targets of client ``client``'s
        minibatch for ``key``: exactly what ``loss_grad(x, client, key)`` trains on."""
        off = int(self._offsets[client])
        size = int(self._sizes[client])
        bs = self.batch_size
        if bs == 0 or bs >= size:
            inputs, targets = self.x_train[off : off + size], self.y_train[off : off + size]
        else:
            idx = self.to_device(self._sampler.sample(key, size, bs).add_(off))
            inputs, targets = self.x_train.index_select(0, idx), self.y_train.index_select(0, idx)
        return self.prepare(inputs, key), targets

    def to_device(self, a: np.ndarray | torch.Tensor) -> torch.Tensor:
        """A small host array or CPU tensor (indices, offsets) as a tensor on the model's device."""
        t = torch.from_numpy(a) if isinstance(a, np.ndarray) else a
        if self._cuda:
            # Pinned staging: the copy is queued without waiting for the device;
            # torch's host allocator keeps the block until the copy has run.
            t = t.pin_memory().to(self.device, non_blocking=True)
        return t

    def prepare(self, inputs: torch.Tensor, key: int | None) -> torch.Tensor:
        """Stored rows -> model inputs: standardise when the data set left it to us.

        ``key`` is None for evaluation; subclasses add augmentation drawn from ``key``.
        """
        if self._mean is None:
            return inputs
        return (inputs.float() - self._mean) * self._inv_std

    def batch_loss(self, params: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of a batch as a torch scalar, a function of the flat ``params``
        (differentiable twice: Hessian-vector products via ``torch.func`` or double backward).
        Uses the module's current mode (dropout is active in training mode)."""
        out = torch.func.functional_call(self.model, self.flat.unflatten(params), (inputs,))
        return torch.nn.functional.cross_entropy(out, targets)

    has_hvp = True

    def hvp(self, x: Any, v: Any, part: int = 0, nparts: int = 1, *, batch: int = 0, data: float | int = 1.0) -> Any:
        """Part ``part`` of H v by double backward, in evaluation mode (dropout off).

        The objective is mean_i f_i with f_i client i's mean cross-entropy, written as a
        per-sample weighted sum (weight 1 / (clients * client's samples)) over the kept
        samples in client order. Those are cut into fixed blocks of ``batch`` samples and a
        part is a run of whole blocks, so the parts add up to the same H v whatever
        ``nparts`` is (evaluation mode: BatchNorm uses its running statistics, so a block's
        size does not change the loss). ``batch`` = 0 makes each part one block of about
        n / nparts samples, so every rank computes a share.
        """
        if not 0 <= part < nparts:
            raise ValueError(f"part {part} is not in 0..{nparts - 1}")
        idx, weights = self._hessian_samples(data)
        n = len(weights)
        bs = batch if 0 < batch < n else -(-n // nparts)
        blocks = -(-n // bs)
        lo, hi = part * blocks // nparts, (part + 1) * blocks // nparts
        p = self.backend.to_torch(x).detach().to(self.flat.params.dtype).requires_grad_(True)
        vt = self.backend.to_torch(v).to(p.dtype)
        out = torch.zeros_like(p, requires_grad=False)
        self._set_mode(False)
        for b in range(lo, hi):
            s, e = b * bs, min(n, (b + 1) * bs)
            rows = slice(s, e) if idx is None else idx[s:e]
            inputs = self.x_train[rows] if idx is None else self.x_train.index_select(0, rows)
            targets = self.y_train[rows] if idx is None else self.y_train.index_select(0, rows)
            logits = torch.func.functional_call(self.model, self.flat.unflatten(p), (self.prepare(inputs, None),))
            loss = (torch.nn.functional.cross_entropy(logits, targets, reduction="none") * weights[s:e]).sum()
            (g,) = torch.autograd.grad(loss, p, create_graph=True)
            (hv,) = torch.autograd.grad(g, p, grad_outputs=vt)
            out += hv
        return self.backend.from_torch(out)

    def _hessian_samples(self, data: float | int) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Positions (None: all, in order) of the samples the Hessian's loss uses, and their weights.

        ``data`` keeps that many of each client's samples (a fraction rounds up to at least
        one), drawn once from the job seed, so every measurement of a run uses the same loss.
        """
        key = ("hessian_samples", data)
        cached = getattr(self, "_hessian_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        from hpcsketch.config.options import resolve_count

        kept = [min(int(m), resolve_count(data, int(m))) if m > 0 else 0 for m in self._sizes]
        clients = sum(1 for k in kept if k > 0)
        weights = np.concatenate([np.full(k, 1.0 / (clients * k)) for k in kept if k > 0])
        if all(k == m for k, m in zip(kept, self._sizes)):
            idx = None
        else:
            idx_np = np.concatenate([
                int(self._offsets[c]) + np.sort(seeding.rng(self.seed, "hessian-data", c).choice(int(m), k, replace=False))
                for c, (k, m) in enumerate(zip(kept, self._sizes)) if k > 0
            ])
            idx = torch.from_numpy(idx_np.astype(np.int64)).to(self.device)
        w = torch.from_numpy(weights).to(device=self.device, dtype=self.flat.params.dtype)
        self._hessian_cache = (key, (idx, w))
        return idx, w

    def _set_mode(self, training: bool) -> None:
        if self._training is not training:
            self.model.train(training)
            self._training = training

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model": self.model_name, **self.dataset_info}
