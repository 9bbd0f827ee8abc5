"""Split training indices over ``n`` logical clients.

Schemes (``[clients] partition``):

* ``iid``: a seeded shuffle cut into ``n`` nearly equal parts.
* ``dirichlet``: the usual label-Dirichlet split (Hsu et al. 2019): for every
  class, client shares ~ Dir(alpha, ..., alpha) decide how that class's samples
  are dealt out. Small ``alpha`` -> each client sees few classes. Draws that leave
  a client empty are redrawn a few times, then repaired by moving one sample from
  the largest client into each empty one.
* ``shards``: sort by label, cut into ``n * k`` equal shards, deal ``k`` shards to
  each client (McMahan et al. 2017). With n = 10000, k = 1 on CIFAR-10's 50000
  images every client holds 5 images of a single class (CS-SGD's non-iid setting).

All of it depends on the labels, ``n``, the options and the seed only (never on
the number of MPI ranks): every rank computes the same split.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from hpcsketch import seeding
from hpcsketch.errors import BadInput

SCHEMES = ("iid", "dirichlet", "shards")
_DIRICHLET_TRIES = 10


def _need(n_items: int, n_parts: int, what: str, field: str) -> None:
    if n_parts < 1:
        raise BadInput(f"{n_parts} is not a valid count; expected an integer >= 1", field=field)
    if n_parts > n_items:
        raise BadInput(f"{n_parts} {what} need at least as many training samples, but there are {n_items}", field=field)


def iid(num_samples: int, n: int, seed: int) -> list[np.ndarray]:
    _need(num_samples, n, "clients", "[clients] count")
    perm = seeding.rng(seed, "partition", "iid").permutation(num_samples)
    return [np.sort(p) for p in np.array_split(perm, n)]


def dirichlet(labels: np.ndarray, n: int, alpha: float, seed: int) -> list[np.ndarray]:
    labels = np.asarray(labels)
    _need(len(labels), n, "clients", "[clients] count")
    if not alpha > 0:
        raise BadInput(f"{alpha} is out of range; expected a number > 0", field="[clients] alpha")
    classes = np.unique(labels)
    by_class = [np.flatnonzero(labels == c) for c in classes]
    for attempt in range(_DIRICHLET_TRIES):
        gen = seeding.rng(seed, "partition", "dirichlet", attempt)
        owner = np.empty(len(labels), dtype=np.int64)
        for idx in by_class:
            idx = idx[gen.permutation(len(idx))]
            shares = gen.dirichlet(np.full(n, alpha))
            # Cut points of the class's shuffled samples at the cumulative shares.
            cuts = np.round(np.cumsum(shares)[:-1] * len(idx)).astype(np.int64)
            owner[idx] = np.repeat(np.arange(n), np.diff(np.concatenate([[0], cuts, [len(idx)]])))
        counts = np.bincount(owner, minlength=n)
        if counts.min() > 0:
            break
    else:
        _repair_empty(owner, counts, gen)
    order = np.argsort(owner, kind="stable")
    return np.split(order, np.cumsum(np.bincount(owner, minlength=n))[:-1])


def _repair_empty(owner: np.ndarray, counts: np.ndarray, gen: np.random.Generator) -> None:
    """Give every empty client one sample taken from the client that holds the most."""
    for empty in np.flatnonzero(counts == 0):
        donor = int(np.argmax(counts))
        pool = np.flatnonzero(owner == donor)
        owner[pool[gen.integers(len(pool))]] = empty
        counts[donor] -= 1
        counts[empty] += 1


def shards(labels: np.ndarray, n: int, per_client: int, seed: int) -> list[np.ndarray]:
    labels = np.asarray(labels)
    if per_client < 1:
        raise BadInput(f"{per_client} is out of range; expected an integer >= 1", field="[clients] shards")
    _need(len(labels), n * per_client, f"shards ({n} clients x {per_client})", "[clients] count")
    gen = seeding.rng(seed, "partition", "shards")
    # Shuffle first so that samples of one class land in random shards, then a stable
    # sort by label: shard boundaries fall inside classes only where sizes force it.
    perm = gen.permutation(len(labels))
    order = perm[np.argsort(labels[perm], kind="stable")]
    pieces = np.array_split(order, n * per_client)
    deal = gen.permutation(n * per_client).reshape(n, per_client)
    return [np.sort(np.concatenate([pieces[s] for s in row])) for row in deal]


def partition(labels: np.ndarray, clients: Mapping[str, Any], seed: int) -> list[np.ndarray]:
    """Index arrays (one per client) for the ``[clients]`` options ``count``, ``partition``,
    ``alpha`` and ``shards``."""
    n = int(clients["count"])
    scheme = clients.get("partition", "iid")
    if scheme == "iid":
        return iid(len(labels), n, seed)
    if scheme == "dirichlet":
        return dirichlet(labels, n, float(clients.get("alpha", 0.5)), seed)
    if scheme == "shards":
        return shards(labels, n, int(clients.get("shards", 2)), seed)
    raise BadInput(f"{scheme!r} is not valid; expected one of {', '.join(map(repr, SCHEMES))}", field="[clients] partition")


def label_skew(labels: np.ndarray, parts: list[np.ndarray]) -> float:
    """Mean total-variation distance between each client's label mix and the global one
    (0 = every client looks like the whole; near 1 = clients hold disjoint classes)."""
    labels = np.asarray(labels)
    k = int(labels.max()) + 1
    overall = np.bincount(labels, minlength=k) / len(labels)
    tv = [0.5 * np.abs(np.bincount(labels[p], minlength=k) / len(p) - overall).sum() for p in parts]
    return float(np.mean(tv))
