"""Diagonal sketches C_i of independent subnetwork training (seed 002; docs/methods.md, 'IST diagonal sketches').

Each round a sketch gives every sampled client i a diagonal PSD matrix C_i, held
as a :class:`Diagonal`: its support (the coordinates client i trains, receives and
sends, in payload order), its entries there, and the weight the server gives the
client's change of each of those coordinates. Never a d x d matrix.

Everything is drawn from the round key alone (counter-based, see
``hpcsketch.seeding``), so every rank draws every client's C_i without
communicating and a payload needs no indices.

Kinds (``n`` = clients sampled this round):

* ``identity``: C_i = I (IST is then gradient descent / local SGD).
* ``perm_q``: a fresh permutation pi of [d] cut into n blocks (n q = d; when n
  does not divide d the first d mod n blocks get one more coordinate);
  C_i = n * sum over block i of e_j e_j^T. Blocks are disjoint and cover [d].
  The permutation and the blocks are Perm-q's (``hpcsketch.compressors.perm_q``).
* ``perm_q_preconditioned``: Perm-q's blocks with entries sqrt(n / [L_i]_jj):
  with n = d (q = 1) this is the seed's preconditioned Perm-1,
  C_i = sqrt(n / [L_i]_{pi_i pi_i}) e_{pi_i} e_{pi_i}^T (eq. 12); for q > 1 the
  same per-coordinate scaling of each block, which keeps E[diag(C_i L_i C_i)] = 1.
* ``rand_q``: client i keeps q coordinates drawn without replacement from its own
  stream (independent of the other clients), C_i = (d / q) * sum over them of
  e_j e_j^T, so E[C_i] = I. Supports overlap, and some coordinates are left out.
* ``neurons``: a structured Perm-q over the hidden units of a chain of fully
  connected layers (Yuan et al. 2022), see :class:`NeuronSketch`.

Server weights: for the first four kinds every weight is 1/n, so the server
update is x <- x + mean_i delta_i (see ``hpcsketch.algorithms.ist``). For
``neurons`` a coordinate owned by one client gets weight 1 (the server takes the
owner's trained value) and one every client trains (the output bias) 1/n.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Protocol, Sequence

import numpy as np

from hpcsketch import seeding
from hpcsketch.compressors.perm_q import block_bounds, permutation


@dataclass(frozen=True)
class Diagonal:
    """Client i's C_i this round: ``C_i = sum_k scale[k] e_{index[k]} e_{index[k]}^T``."""

    index: np.ndarray  # int64 (q,): the support, in the order the client's payload uses
    scale: np.ndarray  # float64 (q,): C_i's entries on ``index``
    weight: np.ndarray  # float64 (q,): the server's weight of the client's change on ``index``

    @property
    def size(self) -> int:
        return int(self.index.shape[0])

    def dense(self, dim: int) -> np.ndarray:
        """C_i's diagonal as a (dim,) vector (zeros off the support); for tests and small d."""
        out = np.zeros(dim)
        out[self.index] = self.scale
        return out


def _diagonal(index: np.ndarray, scale: float | np.ndarray, weight: float | np.ndarray) -> Diagonal:
    q = index.shape[0]
    return Diagonal(index, np.broadcast_to(np.asarray(scale, dtype=np.float64), (q,)),
                    np.broadcast_to(np.asarray(weight, dtype=np.float64), (q,)))


class DiagonalSketch(ABC):
    """Draws every sampled client's C_i for one round."""

    kind: ClassVar[str] = ""

    def __init__(self, dim: int):
        self.dim = int(dim)

    def check_clients(self, n: int) -> str | None:
        """Why ``n`` clients per round cannot share this sketch (None when they can)."""
        if n > self.dim:
            return f"{n} clients per round but d = {self.dim}: {self.kind} needs at most d clients per round"
        return None

    @abstractmethod
    def draw(self, key: int, clients: Sequence[int]) -> list[Diagonal]:
        """C_i of each of ``clients`` (the sampled ids, in order) for the round keyed ``key``."""


class IdentitySketch(DiagonalSketch):
    kind = "identity"

    def draw(self, key: int, clients: Sequence[int]) -> list[Diagonal]:
        everything = np.arange(self.dim, dtype=np.int64)
        return [_diagonal(everything, 1.0, 1.0 / len(clients)) for _ in clients]


class PermQSketch(DiagonalSketch):
    kind = "perm_q"

    def blocks(self, key: int, n: int) -> list[np.ndarray]:
        """The n disjoint blocks of the round's permutation (block i goes to the i-th sampled client)."""
        perm = permutation(self.dim, key)
        b = block_bounds(self.dim, n)
        return [perm[b[i] : b[i + 1]] for i in range(n)]

    def draw(self, key: int, clients: Sequence[int]) -> list[Diagonal]:
        n = len(clients)
        return [_diagonal(block, float(n), 1.0 / n) for block in self.blocks(key, n)]


class PreconditionedPermQSketch(PermQSketch):
    kind = "perm_q_preconditioned"

    def __init__(self, dim: int, diag_hessian: Callable[[int], Any], clients: int):
        super().__init__(dim)
        # the clients' Hessian diagonals, once, on the host in float64
        self.diag = np.stack([np.asarray(diag_hessian(c), dtype=np.float64).reshape(-1) for c in range(clients)])
        if not (self.diag > 0).all():
            c, j = np.argwhere(~(self.diag > 0))[0]
            raise ValueError(f"[L_{c}]_{j}{j} = {self.diag[c, j]:g}: preconditioning needs positive Hessian diagonals")

    def draw(self, key: int, clients: Sequence[int]) -> list[Diagonal]:
        n = len(clients)
        return [_diagonal(block, np.sqrt(n / self.diag[c, block]), 1.0 / n)
                for c, block in zip(clients, self.blocks(key, n))]


class RandQSketch(DiagonalSketch):
    kind = "rand_q"

    def __init__(self, dim: int, q: int | None = None):
        super().__init__(dim)
        if q is not None and not 1 <= q <= dim:
            raise ValueError(f"q = {q} coordinates; need 1..{dim} for d = {dim}")
        self.q = q

    def count(self, n: int) -> int:
        """Coordinates per client: q, or d / n (Perm-q's block size) when q is unset."""
        return self.q if self.q is not None else max(1, round(self.dim / n))

    def draw(self, key: int, clients: Sequence[int]) -> list[Diagonal]:
        q = self.count(len(clients))
        out = []
        for c in clients:
            index = np.sort(seeding.rng(key, "rand_q", int(c)).choice(self.dim, q, replace=False)).astype(np.int64)
            out.append(_diagonal(index, self.dim / q, 1.0 / len(clients)))
        return out


class DenseLayerLike(Protocol):
    """A fully connected layer ``out = W in + b`` as offsets into the flat parameter vector
    (W row-major (out_features, in_features); ``bias_offset`` < 0: no bias)."""

    weight_offset: int
    out_features: int
    in_features: int
    bias_offset: int


class NeuronSketch(DiagonalSketch):
    """Hidden units of a chain of fully connected layers split over the clients (Yuan et al. 2022).

    For every hidden layer (the outputs of all layers but the last) a fresh
    permutation of its units is cut into n blocks as Perm-q cuts [d]; client i owns
    block i of every hidden layer. It trains the rows of each layer's W and b that
    feed its units and, of the next layer, the columns its units feed; the last
    layer's rows (the outputs) belong to everybody. Weights between units of two
    different clients are trained by nobody this round and keep their value.

    Scaling (dropout-like, as inverted dropout with keep probability 1/n): the
    entries of C_i are n on weights fed by a hidden layer (the columns of every
    layer but the first) and 1 on the first layer's weights and on biases, so a
    submodel's pre-activations have the full model's scale. The client trains
    y <- y - gamma C_i grad f_i(C_i y), which is dropout SGD of its units.

    Server weights: 1 on coordinates one client owns (reassembly: the owner's
    trained value replaces the old one) and 1/n on the last layer's bias, which
    every client trains (the server averages it). With one client C_1 = I and
    IST is local SGD.
    """

    kind = "neurons"

    def __init__(self, dim: int, layers: Sequence[DenseLayerLike]):
        super().__init__(dim)
        self.layers = list(layers)
        if len(self.layers) < 2:
            raise ValueError("the model has no hidden layer to split (it needs two fully connected layers or more)")
        for a, b in zip(self.layers, self.layers[1:]):
            if a.out_features != b.in_features:
                raise ValueError(f"fully connected layers do not chain: {a.out_features} outputs feed {b.in_features} inputs")
        self.hidden = [layer.out_features for layer in self.layers[:-1]]

    def check_clients(self, n: int) -> str | None:
        if n > min(self.hidden):
            return (f"{n} clients per round but the narrowest hidden layer has {min(self.hidden)} units: "
                    "each client needs at least one unit of every hidden layer")
        return None

    def units(self, key: int, n: int) -> list[list[np.ndarray]]:
        """units[i][h]: the sorted units of hidden layer h client i owns this round."""
        per_layer = []
        for h, width in enumerate(self.hidden):
            perm = permutation(width, seeding.derive(key, "layer", h))
            b = block_bounds(width, n)
            per_layer.append([np.sort(perm[b[i] : b[i + 1]]) for i in range(n)])
        return [[per_layer[h][i] for h in range(len(self.hidden))] for i in range(n)]

    def draw(self, key: int, clients: Sequence[int]) -> list[Diagonal]:
        n = len(clients)
        last = len(self.layers) - 1
        out = []
        for own in self.units(key, n):
            index, scale, weight = [], [], []
            for k, layer in enumerate(self.layers):
                rows = own[k] if k < last else np.arange(layer.out_features, dtype=np.int64)
                cols = own[k - 1] if k > 0 else np.arange(layer.in_features, dtype=np.int64)
                w = layer.weight_offset + (rows[:, None] * layer.in_features + cols[None, :]).reshape(-1)
                index.append(w)
                scale.append(np.full(w.shape[0], float(n) if k > 0 else 1.0))
                weight.append(np.ones(w.shape[0]))
                if layer.bias_offset >= 0:
                    index.append(layer.bias_offset + rows)
                    scale.append(np.ones(rows.shape[0]))
                    weight.append(np.full(rows.shape[0], 1.0 / n if k == last else 1.0))
            out.append(Diagonal(np.concatenate(index).astype(np.int64), np.concatenate(scale), np.concatenate(weight)))
        return out


#: the kinds ``[algorithm] sketch`` accepts
KINDS = ("perm_q", "perm_q_preconditioned", "rand_q", "identity", "neurons")
