"""The file graph of definitions and references, and personalised PageRank over it.

File A links to file B when A references a name B defines. A name defined in many files says
little about which one A means, so its weight is split among them, and names defined in more
than `MAX_DEFINERS` files (`get`, `run`, `__init__`-like) make no edge at all. The walk restarts
at the files the issue points to, so the rank flows from them to the code they lean on.
Plain numpy: the graph of even a large repository is a few hundred thousand edges.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from agent.context.index import Definitions, IndexedFile

MAX_DEFINERS = 8
MIN_NAME = 3


class RefGraph(NamedTuple):
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    nodes: int


def build_graph(files: list[IndexedFile], definitions: Definitions) -> RefGraph:
    definers: dict[str, list[int]] = {}
    for name, places in definitions.items():
        if len(name) >= MIN_NAME and not name.startswith("__"):
            files_defining = sorted({fi for fi, _ in places})
            if len(files_defining) <= MAX_DEFINERS:
                definers[name] = files_defining
    edges: dict[tuple[int, int], float] = {}
    for fi, file in enumerate(files):
        for name, count in file.record.refs.items():
            owners = definers.get(name)
            if not owners:
                continue
            share = math.sqrt(count) / len(owners)
            for owner in owners:
                if owner != fi:
                    edges[(fi, owner)] = edges.get((fi, owner), 0.0) + share
    if not edges:
        empty = np.zeros(0, dtype=np.int32)
        return RefGraph(empty, empty, np.zeros(0, dtype=np.float64), len(files))
    pairs = np.asarray(list(edges), dtype=np.int32)
    return RefGraph(pairs[:, 0], pairs[:, 1], np.asarray(list(edges.values())), len(files))


def personalized_pagerank(
    graph: RefGraph, restart: np.ndarray, damping: float = 0.85, iterations: int = 50, tol: float = 1e-9
) -> np.ndarray:
    """Stationary visit probability of a walk that restarts at `restart` (any non-negative weights)."""
    n = graph.nodes
    if n == 0:
        return np.zeros(0)
    p = np.clip(np.asarray(restart, dtype=np.float64), 0.0, None)
    p = p / p.sum() if p.sum() > 0 else np.full(n, 1.0 / n)
    out_weight = np.bincount(graph.src, weights=graph.weight, minlength=n)
    share = graph.weight / np.where(out_weight[graph.src] > 0, out_weight[graph.src], 1.0)
    dangling = out_weight == 0
    rank = p.copy()
    for _ in range(iterations):
        flowed = np.bincount(graph.dst, weights=rank[graph.src] * share, minlength=n)
        new = damping * (flowed + rank[dangling].sum() * p) + (1 - damping) * p
        if np.abs(new - rank).sum() < tol:
            return new
        rank = new
    return rank
