import pytest
import sacrebleu
from rouge_score import rouge_scorer

from nova_dpo.evaluation.text_metrics import (
    bleu_statistics,
    corpus_bleu_from_statistics,
    exact_match,
    helm_normalize,
    quasi_exact_match,
    quasi_word_f1,
    rouge_scores,
    sentence_bleu,
    word_f1,
)


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Cat's hat!", "cats hat"),
        ("  an   apple\tand a pear ", "apple and pear"),
        ("well-known", "well known"),
        # Numbers are rewritten as floats word by word, after punctuation is gone (HELM / lighteval).
        ("1 or 2.5", "1.0 or 25.0"),
        ("", ""),
    ],
)
def test_helm_normalize(text, normalized):
    assert helm_normalize(text) == normalized


@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        (" Paris \n", "Paris", 1.0),
        ("paris", "Paris", 0.0),
        ("Paris.", "Paris", 0.0),
        ("", "", 0.0),  # an empty prediction never matches
    ],
)
def test_exact_match(prediction, gold, expected):
    assert exact_match(prediction, gold) == expected


@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("The  Paris.", "paris", 1.0),
        ("Paris, France", "paris france!", 1.0),
        ("Paris", "London", 0.0),
        ("", "", 0.0),
    ],
)
def test_quasi_exact_match(prediction, gold, expected):
    assert quasi_exact_match(prediction, gold) == expected


def test_word_f1_by_hand():
    # {the, cat, sat} vs {the, cat, ran, away}: 2 common, P = 2/3, R = 2/4, F1 = 4/7.
    assert word_f1("the cat sat", "the cat ran away") == pytest.approx(4 / 7)
    # Words are compared as sets, so repeats do not count twice.
    assert word_f1("a a b", "a b") == pytest.approx(1.0)
    assert word_f1("", "anything") == 0.0
    assert word_f1("x", "y") == 0.0


def test_f1_quasi_normalizes_but_f1_does_not():
    # "The cat" vs "the cat": only "cat" is shared as written, P = R = 1/2.
    assert word_f1("The cat", "the cat") == pytest.approx(0.5)
    assert quasi_word_f1("The cat", "the cat") == pytest.approx(1.0)


def test_rouge_by_hand_and_against_rouge_score():
    prediction, gold = "the cat sat on the mat", "The cat is on the mat."
    scores = rouge_scores(prediction, gold)
    # Unigrams: the x2, cat, on, mat shared = 5 of 6 each side. Bigrams: the cat, on the, the mat = 3 of 5.
    # LCS: "the cat on the mat" = 5 of 6.
    assert scores == pytest.approx({"rouge1": 5 / 6, "rouge2": 3 / 5, "rougeL": 5 / 6})
    reference = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"]).score(gold, prediction)
    assert scores == pytest.approx({name: s.fmeasure for name, s in reference.items()})


def test_sentence_bleu_by_hand_and_against_sacrebleu():
    prediction, gold = "the cat sat on the mat", "the cat sat on a mat"
    # Precisions 5/6, 3/5, 2/4, 1/3, brevity penalty 1: BLEU = 100 * (1/12) ** (1/4).
    assert sentence_bleu(prediction, gold) == pytest.approx(100 * (1 / 12) ** 0.25)
    assert sentence_bleu(prediction, gold) == pytest.approx(sacrebleu.sentence_bleu(prediction, [gold]).score)
    assert sentence_bleu("exactly the same words here", "exactly the same words here") == pytest.approx(100.0)


def test_corpus_bleu_from_statistics_equals_sacrebleu():
    predictions = ["the cat sat on the mat", "hello world", "", "a tool call {name}"]
    golds = ["the cat sat on a mat", "hello there world", "nothing", "a tool call {name}"]
    statistics = [bleu_statistics(p, g) for p, g in zip(predictions, golds, strict=True)]
    assert statistics[0] == [6, 6, 5, 3, 2, 1, 6, 5, 4, 3]
    expected = sacrebleu.corpus_bleu(predictions, [golds]).score
    assert corpus_bleu_from_statistics(statistics) == pytest.approx(expected)
    assert corpus_bleu_from_statistics([]) == 0.0
