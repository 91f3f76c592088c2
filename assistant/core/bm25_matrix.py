"""bm25s's BM25 index built straight from a flat tokenised corpus, with NumPy.

``bm25s.BM25.index`` wants a list of term-id lists, one per document, and counts terms
and scores them in a Python loop per document. At a million chunks that is ~100M Python
ints (gigabytes) and minutes per ingest. :func:`bm25_index` takes the corpus as the
project keeps it (``flat``: every document's term ids, one after another; ``offsets``:
where each begins) and computes the same arrays with whole-array operations.

The result is bit-identical to ``BM25.index`` (the tests compare the arrays exactly), so
an index built here or by bm25s scores, saves and loads the same. That holds because each
value is computed by the same IEEE operations, in the same order and dtypes, as bm25s
0.3's ``build_index_from_ids`` does (``bm25s/scoring.py``):

- average document length: the mean of an int64 array of lengths (float64);
- document frequency: documents holding a term, a repeated term counted once;
- idf: bm25s's own scorer (``math.log``, in float64) per distinct frequency, stored as
  float32 (``np.log`` may differ from ``math.log`` in the last bit, so it is not used);
- term frequency component: bm25s's own tfc function applied to arrays, where bm25s
  applies it per document: NumPy 2 promotes its float64 scalars and float32 counts to
  float64 either way, so every element sees the same operations;
- score: float32 idf times the float64 tfc, rounded once to float32;
- CSC layout: a column per term (all ``vocabulary`` ids, 0 to n-1), rows (documents)
  ascending within it; ``indices`` int32, ``indptr`` int64, ``data`` float32.
"""

from __future__ import annotations

import numpy as np
from bm25s import BM25
from bm25s.scoring import _select_idf_scorer, _select_tfc_scorer

EMPTY = ""  # bm25s's padding term, which ``BM25.index`` adds last to the vocabulary
BLOCK = 1 << 22  # (document, term) pairs scored at once: bounds the float64 temporaries


def bm25_index(flat: np.ndarray, offsets: np.ndarray, vocabulary: dict[str, int]) -> BM25:
    """A ``bm25s.BM25()`` (default parameters) indexed as ``BM25().index((documents,
    vocabulary))`` would index it, ``documents`` being ``flat[offsets[i]:offsets[i+1]]``.

    ``vocabulary``: term → id, ids 0 to n-1 without the padding term (copied, not changed);
    every id in ``flat`` must be one of them.
    """
    bm25 = BM25()
    if bm25.method in bm25.methods_requiring_nonoccurrence:
        raise ValueError(f"BM25 method {bm25.method!r} is not supported here")
    vocab_dict = dict(vocabulary)
    bm25.scores = _score_matrix(bm25, flat, offsets, len(vocab_dict))
    bm25.nonoccurrence_array = None  # as build_index_from_ids sets it for these methods
    # As BM25.index does (create_empty_token): the padding term takes the next id, a column
    # the matrix does not have. Like bm25s, an empty vocabulary fails here (max of nothing).
    if EMPTY not in vocab_dict:
        vocab_dict[EMPTY] = max(vocab_dict.values()) + 1
    bm25.vocab_dict = vocab_dict
    bm25.unique_token_ids_set = set(vocab_dict.values())
    return bm25


def _score_matrix(
    bm25: BM25, flat: np.ndarray, offsets: np.ndarray, n_vocab: int
) -> dict[str, np.ndarray | int]:
    """``bm25.scores`` of the corpus: the term × document score matrix in CSC form."""
    flat = np.asarray(flat)
    lengths = np.diff(np.asarray(offsets, dtype=np.int64))
    n_docs = len(lengths)
    # bm25s takes np.array([len(doc) for doc in corpus]).mean(): an int64 array's mean too
    avg_doc_len = lengths.mean() if n_docs else np.float64(np.nan)

    indptr, rows, counts = _term_counts(flat, lengths, n_vocab)
    doc_frequencies = np.diff(indptr)  # a column holds one entry per document with the term

    idf = _idf_array(bm25, doc_frequencies, n_docs)
    pair_idf = np.repeat(idf, doc_frequencies)  # the idf of each entry's term, in CSC order
    pair_lengths = lengths.astype(np.float64)  # gathered per entry below
    calculate_tfc = _select_tfc_scorer(bm25.method)
    data = np.empty(len(rows), dtype=bm25.dtype)
    for start in range(0, len(rows), BLOCK):
        block = slice(start, start + BLOCK)
        # bm25s passes float32 counts (its dtype) and a document's length as an int, which
        # its float64 arithmetic turns into the float64 we pass per entry here.
        tfc = calculate_tfc(
            tf_array=counts[block].astype(bm25.dtype),
            l_d=pair_lengths[rows[block]],
            l_avg=avg_doc_len,
            k1=bm25.k1,
            b=bm25.b,
            delta=bm25.delta,
        )
        data[block] = pair_idf[block] * tfc  # float64 product, rounded once to float32
    return {
        "data": data,
        "indices": rows.astype(bm25.int_dtype, copy=False),
        "indptr": indptr,
        "num_docs": n_docs,
    }


def _term_counts(
    flat: np.ndarray, lengths: np.ndarray, n_vocab: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, documents, counts) of the term × document matrix in CSC form: where each
    term's column begins (int64, n_vocab + 1), then for each entry, sorted by term then
    document, the document (int32) and how often the term occurs in it (int32).

    Each token becomes one int64 key, term * documents + document; sorting the keys groups
    a term's documents in ascending order, and equal keys are one term's repeats in one
    document, so the run lengths are the counts.
    """
    if len(flat) and int(flat.max()) >= n_vocab:
        raise ValueError(f"term id {int(flat.max())} outside the vocabulary of {n_vocab}")
    stride = max(len(lengths), 1)  # documents; 1 when there are none, so no division by 0
    keys = flat.astype(np.int64)
    keys *= stride
    keys += np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)  # each token's doc
    keys.sort()
    begins = np.empty(len(keys), dtype=bool)  # where each run of equal keys begins
    begins[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=begins[1:])
    firsts = np.flatnonzero(begins)
    del begins
    counts = np.diff(firsts, append=len(keys)).astype(np.int32)
    pairs = keys[firsts]
    del keys, firsts
    # term t's keys are t * stride + document: its column begins at the first key >= that
    indptr = np.searchsorted(pairs, np.arange(n_vocab + 1, dtype=np.int64) * stride)
    # documents fit int32: bm25s's int_dtype holds them too
    rows = (pairs % stride).astype(np.int32)
    return indptr.astype(np.int64, copy=False), rows, counts


def _idf_array(bm25: BM25, doc_frequencies: np.ndarray, n_docs: int) -> np.ndarray:
    """The idf of each term (0 for a term no document holds), as bm25s's
    ``_build_idf_array`` computes it: its scorer on Python ints, stored as float32.

    Computed once per distinct frequency (a few thousand at most), not per term.
    """
    compute_idf = _select_idf_scorer(bm25.idf_method)
    held = doc_frequencies > 0
    distinct, which = np.unique(doc_frequencies[held], return_inverse=True)
    values = np.array([compute_idf(int(df), N=n_docs) for df in distinct], dtype=np.float64)
    idf = np.zeros(len(doc_frequencies), dtype=bm25.dtype)
    idf[held] = values.astype(bm25.dtype)[which]
    return idf
