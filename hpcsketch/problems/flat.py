"""One flat buffer for all parameters of a torch module, one for all gradients.

After :class:`FlatParams` wraps a module, every parameter is a view into
``flat.params`` and its ``.grad`` a view into ``flat.grads``. The run's array
module sees both through ``backend.from_torch`` with no copy, so writing the
model is writing an array and reading the gradient is reading one.

Backward accumulates into an existing ``.grad`` in place (autograd's
AccumulateGrad adds into it when grad mode is off, as it is during a plain
``backward()``), so gradients land in the flat buffer as long as the ``.grad``
views stay in place: zero the buffer with :meth:`FlatParams.zero_grad`, never set
grads to None (``optimizer.zero_grad()``'s default would break the views).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn


class DenseLayer(NamedTuple):
    """A fully connected layer ``out = W in + b`` as offsets into the flat parameter vector
    (W row-major, shape (out_features, in_features); ``bias_offset`` -1: no bias)."""

    weight_offset: int
    out_features: int
    in_features: int
    bias_offset: int


class FlatParams:
    """Flat parameter and gradient buffers of ``module`` (moved to ``device``/``dtype`` first)."""

    def __init__(self, module: nn.Module, device: Any = None, dtype: torch.dtype = torch.float32):
        if any(True for _ in module.buffers()):
            names = ", ".join(n for n, _ in module.named_buffers())
            # Buffers (e.g. BatchNorm running stats) would be model state outside x.
            raise ValueError(f"module has buffers ({names}); build BatchNorm with track_running_stats=False")
        module.to(device=device, dtype=dtype)
        named = list(module.named_parameters())
        self.module = module
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.numels = [p.numel() for _, p in named]
        #: where each parameter starts in the flat vector (same order as names)
        self.offsets = [sum(self.numels[:i]) for i in range(len(self.numels))]
        self.dim = sum(self.numels)
        first = named[0][1]
        self.params = torch.empty(self.dim, device=first.device, dtype=first.dtype)
        self.grads = torch.zeros(self.dim, device=first.device, dtype=first.dtype)
        off = 0
        with torch.no_grad():
            for (_, p), n in zip(named, self.numels):
                view = self.params[off : off + n].view_as(p)
                view.copy_(p)
                p.data = view
                p.grad = self.grads[off : off + n].view_as(p)
                off += n

    def zero_grad(self) -> None:
        self.grads.zero_()

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of a flat (d,) tensor shaped like the parameters, by name (for ``functional_call``)."""
        return {n: t.view(s) for n, t, s in zip(self.names, flat.split(self.numels), self.shapes)}

    def views_intact(self) -> bool:
        """True while every parameter and gradient still lives in the flat buffers."""
        off = 0
        item = self.params.element_size()
        for p, n in zip(self.module.parameters(), self.numels):
            if p.data_ptr() != self.params.data_ptr() + off * item:
                return False
            if p.grad is None or p.grad.data_ptr() != self.grads.data_ptr() + off * item:
                return False
            off += n
        return True
