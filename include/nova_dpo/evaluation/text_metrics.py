"""Per-example text metrics of Nova's gen_qa task, defined as lighteval (HELM definitions) computes them.

Nova's gen_qa results come from a lighteval-style harness, so each function here follows lighteval's
sample-level metric of the same name; the local platform then reports numbers comparable with Nova's.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

import numpy as np
import sacrebleu
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")

# lighteval builds its scorer with rouge-score's default tokenizer and no stemmer; so do we.
_ROUGE = rouge_scorer.RougeScorer(list(ROUGE_TYPES))
# sacreBLEU's defaults (13a tokenizer, exponential smoothing) are what corpus BLEU means in lighteval.
_BLEU = BLEU()

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_WORD_SEPARATORS = re.compile(r" |-")
_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)


def helm_normalize(text: str) -> str:
    """HELM's answer normalization: lowercase, drop punctuation and articles, squeeze whitespace.

    Applied word by word after splitting on spaces and hyphens (so "well-known" keeps two words), and each
    word that parses as a number is rewritten as Python's float of it, as lighteval's ``helm_normalizer`` does.
    """
    words = []
    for piece in _WORD_SEPARATORS.split(text):
        piece = _as_number(piece.lower().translate(_NO_PUNCTUATION))
        piece = " ".join(_ARTICLES.sub(" ", piece).split())
        if piece:
            words.append(piece)
    return " ".join(words)


def _as_number(word: str) -> str:
    try:
        return str(float(word))
    except ValueError:
        return word


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the prediction equals the gold after stripping surrounding whitespace; an empty one never does."""
    if not prediction:
        return 0.0
    return float(prediction.strip() == gold.strip())


def quasi_exact_match(prediction: str, gold: str) -> float:
    """1.0 when both are equal after :func:`helm_normalize`; an empty prediction never matches."""
    if not prediction:
        return 0.0
    return float(helm_normalize(prediction.strip()) == helm_normalize(gold.strip()))


def word_f1(prediction: str, gold: str) -> float:
    """F1 of the sets of whitespace-separated words, no normalization (lighteval's ``f1_score``).

    Sets, not multisets, because lighteval scores bags of words with ``nltk``'s ``f_measure`` on sets.
    Either side empty gives 0.0.
    """
    predicted, expected = set(prediction.split()), set(gold.split())
    common = len(predicted & expected)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def quasi_word_f1(prediction: str, gold: str) -> float:
    """:func:`word_f1` of both texts after :func:`helm_normalize` (``f1_score_quasi``)."""
    return word_f1(helm_normalize(prediction), helm_normalize(gold))


def rouge_scores(prediction: str, gold: str) -> dict[str, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F-measures of one prediction against its gold, in [0, 1]."""
    scores = _ROUGE.score(gold, prediction)
    return {name: float(scores[name].fmeasure) for name in ROUGE_TYPES}


def sentence_bleu(prediction: str, gold: str) -> float:
    """sacreBLEU sentence BLEU (0-100; effective n-gram order, exponential smoothing) for per-example tables."""
    return float(sacrebleu.sentence_bleu(prediction, [gold]).score)


def bleu_statistics(prediction: str, gold: str) -> list[int]:
    """The sufficient statistics corpus BLEU sums over examples.

    ``[hyp_len, ref_len, matches_1..4, totals_1..4]``. Kept per example so that corpus BLEU can be recomputed
    on any resample of examples (bootstrap stderr, a gate's paired bootstrap) without re-tokenizing.
    """
    score = _BLEU.corpus_score([prediction], [[gold]])
    return [score.sys_len, score.ref_len, *score.counts, *score.totals]


def corpus_bleu_from_statistics(statistics: Sequence[Sequence[int]] | np.ndarray) -> float:
    """Corpus BLEU (0-100) of examples given by their :func:`bleu_statistics` rows."""
    rows = np.asarray(statistics, dtype=np.int64).reshape(-1, 10)
    return _bleu_of_sums(rows.sum(axis=0))


def bleu_of_summed_statistics(sums: np.ndarray) -> np.ndarray:
    """Corpus BLEU for each row of already-summed statistics, shape ``(k, 10)`` -> ``(k,)``."""
    return np.array([_bleu_of_sums(row) for row in np.atleast_2d(sums)])


def _bleu_of_sums(sums: np.ndarray) -> float:
    sys_len, ref_len, counts, totals = int(sums[0]), int(sums[1]), sums[2:6], sums[6:10]
    score = BLEU.compute_bleu(
        correct=[int(c) for c in counts],
        total=[int(t) for t in totals],
        sys_len=sys_len,
        ref_len=ref_len,
        smooth_method=_BLEU.smooth_method,
        smooth_value=_BLEU.smooth_value,
        effective_order=_BLEU.effective_order,
        max_ngram_order=_BLEU.max_ngram_order,
    )
    return float(score.score)
