"""BM25 over chunks and over file paths, with `bm25s`.

Why bm25s: it is maintained, depends only on numpy, and precomputes every (term, chunk) score
into a sparse matrix, so scoring a query is a handful of numpy slices even over a hundred
thousand chunks; `rank-bm25` loops in Python over every document for every query term. The
index pickles as plain numpy arrays, so a warm run loads it instead of rebuilding it.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.context.records import Terms
from agent.context.terms import path_terms

if TYPE_CHECKING:
    from agent.context.index import IndexedFile


def _bm25(docs: Iterable[str]) -> Any:
    """BM25 over space-separated terms. The term ids are made here in one pass per document
    (`map` over a counting dict, in C) and handed to bm25s with their vocabulary: its own string
    path walks every term twice in Python, a second or more on a big repository."""
    import bm25s

    vocab: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    ids = [list(map(vocab.__getitem__, doc.split() or [""])) for doc in docs]
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    retriever.index((ids, dict(vocab)), show_progress=False)
    return retriever


def _scores(retriever: Any, size: int, terms: Sequence[str]) -> np.ndarray:
    if retriever is None or size == 0:
        return np.zeros(size, dtype=np.float32)
    known = [t for t in terms if t and t in retriever.vocab_dict]
    if not known:
        return np.zeros(size, dtype=np.float32)
    return np.asarray(retriever.get_scores(known), dtype=np.float32)


@dataclass
class LexicalIndex:
    chunk_file: np.ndarray  # chunk -> file index
    chunk_local: np.ndarray  # chunk -> index within its file's chunks
    chunks: Any  # bm25s retriever over chunk terms
    paths: Any  # bm25s retriever over path terms

    @property
    def size(self) -> int:
        return len(self.chunk_file)

    def chunk_scores(self, terms: Sequence[str]) -> np.ndarray:
        return _scores(self.chunks, self.size, terms)

    def path_scores(self, terms: Sequence[str], files: int) -> np.ndarray:
        return _scores(self.paths, files, terms)


def build_lexical(files: list[IndexedFile], terms: list[Terms]) -> LexicalIndex:
    """`terms[i]` holds the space-separated terms of each chunk of `files[i]`."""
    corpus: list[str] = []
    owner: list[int] = []
    local: list[int] = []
    for fi, file_terms in enumerate(terms):
        corpus.extend(file_terms)
        owner.extend([fi] * len(file_terms))
        local.extend(range(len(file_terms)))
    return LexicalIndex(
        chunk_file=np.asarray(owner, dtype=np.int32),
        chunk_local=np.asarray(local, dtype=np.int32),
        chunks=_bm25(corpus) if corpus else None,
        paths=_bm25([" ".join(path_terms(f.path)) for f in files]) if files else None,
    )
