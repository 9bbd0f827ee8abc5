"""Communication graphs of P nodes as neighbour lists (no MPI, no weights).

A :class:`Graph` stores, for every node i, the nodes it receives from
(``sources[i]``, its in-neighbours) and the nodes it sends to
(``destinations[i]``): exactly the two lists ``Create_dist_graph_adjacent``
takes. An undirected graph has ``sources[i] == destinations[i]``. Self-loops
and repeated edges are never stored: a node always keeps its own value, and
the mixing weights say how much.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from hpcsketch.errors import BadInput


@dataclass(frozen=True)
class Graph:
    nodes: int
    sources: tuple[tuple[int, ...], ...]
    destinations: tuple[tuple[int, ...], ...]

    @property
    def directed(self) -> bool:
        return any(set(s) != set(d) for s, d in zip(self.sources, self.destinations))

    def degrees(self) -> np.ndarray:
        """In-degree of every node (equal to the out-degree for the graphs built here)."""
        return np.array([len(s) for s in self.sources], dtype=np.int64)

    @property
    def regular(self) -> bool:
        ins = {len(s) for s in self.sources}
        outs = {len(d) for d in self.destinations}
        return len(ins) <= 1 and ins == outs

    def edges(self) -> int:
        return sum(len(d) for d in self.destinations)

    def connected(self) -> bool:
        """Strongly connected (for undirected graphs: connected)."""
        if self.nodes <= 1:
            return True
        return _reaches_all(self.destinations) and _reaches_all(self.sources)


def _reaches_all(adj: Sequence[Sequence[int]]) -> bool:
    seen = {0}
    todo = [0]
    while todo:
        for j in adj[todo.pop()]:
            if j not in seen:
                seen.add(j)
                todo.append(j)
    return len(seen) == len(adj)


def undirected(nodes: int, neighbours: Sequence[Iterable[int]]) -> Graph:
    """A Graph from symmetric neighbour sets (self-loops dropped, lists sorted)."""
    lists = tuple(tuple(sorted({int(j) for j in nb} - {i})) for i, nb in enumerate(neighbours))
    for i, nb in enumerate(lists):
        for j in nb:
            if i not in lists[j]:
                raise AssertionError(f"neighbour lists are not symmetric: {i} -> {j} but not back")
    return Graph(nodes, lists, lists)


def circulant(nodes: int, offsets: Iterable[int]) -> Graph:
    """Node i linked to i +- s (mod P) for every offset s: regular by construction."""
    offs = list(offsets)
    return undirected(nodes, [{(i + s) % nodes for s in offs} | {(i - s) % nodes for s in offs} for i in range(nodes)])


def ring(nodes: int) -> Graph:
    return circulant(nodes, [1])


def torus_dims(nodes: int) -> tuple[int, int]:
    """The most nearly square factorisation a x b = P with a <= b."""
    a = int(math.isqrt(nodes))
    while nodes % a:
        a -= 1
    return a, nodes // a


def torus(nodes: int) -> Graph:
    """2-D torus a x b (a <= b, most nearly square); a side of 2 links its two nodes once."""
    a, b = torus_dims(nodes)
    nbrs = []
    for i in range(nodes):
        r, c = divmod(i, b)
        nbrs.append({((r + 1) % a) * b + c, ((r - 1) % a) * b + c, r * b + (c + 1) % b, r * b + (c - 1) % b})
    return undirected(nodes, nbrs)


def exponential_offsets(nodes: int) -> list[int]:
    """1, 2, 4, ... below P."""
    out, s = [], 1
    while s < nodes:
        out.append(s)
        s *= 2
    return out


def exponential(nodes: int) -> Graph:
    """Static exponential graph, undirected: peers at distance 2^k (k = 0, 1, ...) both ways."""
    return circulant(nodes, exponential_offsets(nodes))


def one_peer_period(nodes: int) -> int:
    """Rounds before the one-peer exponential graph repeats: ceil(log2 P) (1 for P <= 2)."""
    return max(1, math.ceil(math.log2(nodes))) if nodes > 1 else 1


def one_peer_exponential(nodes: int, t: int) -> Graph:
    """Round t of the one-peer exponential graph: node i sends to i + 2^(t mod period) only."""
    if nodes == 1:
        return Graph(1, ((),), ((),))
    s = 2 ** (t % one_peer_period(nodes)) % nodes
    return Graph(nodes, tuple(((i - s) % nodes,) for i in range(nodes)), tuple(((i + s) % nodes,) for i in range(nodes)))


def star(nodes: int) -> Graph:
    """Node 0 linked to every other node."""
    return undirected(nodes, [set(range(1, nodes))] + [{0} for _ in range(1, nodes)])


def complete(nodes: int) -> Graph:
    return undirected(nodes, [set(range(nodes)) for _ in range(nodes)])


def random_regular(nodes: int, degree: int, seed: int, tries: int = 1000) -> Graph:
    """A connected, simple ``degree``-regular graph drawn from ``seed``.

    Steger-Wormald pairing (as networkx does it): pair random stubs, keep the
    pairs that make a new simple edge, re-pair the rest; a dead end or a
    disconnected result starts over with the same generator.
    """
    if not 1 <= degree < nodes:
        raise BadInput(f"a {degree}-regular graph on {nodes} nodes needs 1 <= degree < {nodes}", field="[topology] degree")
    if nodes * degree % 2:
        raise BadInput(f"nodes x degree = {nodes} x {degree} is odd; a regular graph needs it even", field="[topology] degree")
    rng = np.random.default_rng(seed)
    for _ in range(tries):
        edges = _pairing(nodes, degree, rng)
        if edges is None:
            continue
        nbrs: list[set[int]] = [set() for _ in range(nodes)]
        for u, v in edges:
            nbrs[u].add(v)
            nbrs[v].add(u)
        g = undirected(nodes, nbrs)
        if g.connected():
            return g
    raise BadInput(f"found no connected {degree}-regular graph on {nodes} nodes in {tries} draws; use a larger degree",
                   field="[topology] degree")


def _pairing(nodes: int, degree: int, rng: np.random.Generator) -> set[tuple[int, int]] | None:
    edges: set[tuple[int, int]] = set()
    stubs = [i for i in range(nodes) for _ in range(degree)]
    while stubs:
        left: dict[int, int] = {}
        rng.shuffle(stubs)
        for u, v in zip(stubs[0::2], stubs[1::2]):
            u, v = min(u, v), max(u, v)
            if u != v and (u, v) not in edges:
                edges.add((u, v))
            else:
                left[u] = left.get(u, 0) + 1
                left[v] = left.get(v, 0) + 1
        if left and not any((min(u, v), max(u, v)) not in edges for u in left for v in left if u != v):
            return None  # every remaining pair is a self-loop or a repeat
        stubs = [u for u, c in left.items() for _ in range(c)]
    return edges
