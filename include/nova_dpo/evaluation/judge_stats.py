"""Nova llm_judge statistics from a table of pairwise verdicts.

Each pair (``prompt``, ``response_A`` = baseline, ``response_B`` = candidate) is judged twice: forward, as
given, and backward, with the two responses swapped to cancel the judge's position bias. The table keeps
the backward verdict as the judge gave it; :attr:`PairOutcome.backward_unswapped` maps it back.

Nova's statistics, reproduced here:

* ``a_scores``, ``b_scores``, ``ties``, ``inference_error``: counts over both passes of every pair.
  Their ``_stderr`` is the standard error of the matching per-pass rate (count / 2n), with the pair as
  the independent unit (its two passes are not independent), on the 0-1 scale of Nova's example.
* ``score`` / ``score_stderr``: the aggregate of B wins, i.e. ``b_scores`` and its stderr.
* ``winrate``: the Bradley-Terry probability that B beats A, ties counted as half a win for each side
  (the convention of Chatbot Arena / Arena-Hard, whose two-player MLE is ``(B + ties/2) / (A + B + ties)``)
  and errors left out. All ties give 0.5; no usable verdict at all gives 0.5 with the interval [0, 1].
* ``lower_rate`` / ``upper_rate``: 2.5th / 97.5th percentiles of the winrate over a seeded bootstrap
  resample of pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import numpy as np

from nova_dpo.evaluation.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_indices, mean_stderr

Verdict = Literal["A", "B", "tie", "error"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
_UNSWAP: dict[str, Verdict] = {"A": "B", "B": "A", "tie": "tie", "error": "error"}
# Column order of the per-pair count table, one column per verdict.
_COUNT_NAMES = ("a_scores", "b_scores", "ties", "inference_error")


@dataclass(frozen=True)
class PairOutcome:
    """The two verdicts on one pair and the judge's raw replies.

    :param forward: the verdict when the judge saw (response_A, response_B).
    :param backward: the verdict as given when the judge saw (response_B, response_A): "A" there means
        response_B won.
    """

    forward: Verdict
    backward: Verdict
    forward_output: str = ""
    backward_output: str = ""

    def __post_init__(self) -> None:
        for verdict in (self.forward, self.backward):
            if verdict not in VERDICTS:
                raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")

    @property
    def backward_unswapped(self) -> Verdict:
        """The backward verdict in the forward pass's terms (A = response_A)."""
        return _UNSWAP[self.backward]

    def counts(self) -> dict[str, int]:
        """This pair's contribution to each count, over its two passes."""
        verdicts = (self.forward, self.backward_unswapped)
        return {name: verdicts.count(v) for name, v in zip(_COUNT_NAMES, VERDICTS, strict=True)}

    def to_row(self) -> dict[str, Any]:
        """A per-pair row as stored in a results file: verdicts, replies and counts (``score`` = B wins)."""
        counts = self.counts()
        return {**asdict(self), **counts, "score": counts["b_scores"]}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PairOutcome:
        return cls(
            forward=row["forward"],
            backward=row["backward"],
            forward_output=row.get("forward_output", ""),
            backward_output=row.get("backward_output", ""),
        )


def count_table(outcomes: Iterable[PairOutcome]) -> np.ndarray:
    """Per-pair counts, shape ``(pairs, 4)``: columns A wins, B wins, ties, errors (each 0-2)."""
    rows = [[o.counts()[name] for name in _COUNT_NAMES] for o in outcomes]
    return np.array(rows, dtype=np.int64).reshape(-1, len(_COUNT_NAMES))


def winrate_of_counts(counts: np.ndarray) -> np.ndarray:
    """Winrate of B for each row of summed ``[A, B, ties, errors]``; NaN where no verdict is usable."""
    counts = np.atleast_2d(counts).astype(float)
    a_wins, b_wins, ties = counts[:, 0], counts[:, 1], counts[:, 2]
    decided = a_wins + b_wins + ties
    return np.divide(b_wins + ties / 2, decided, out=np.full(len(decided), np.nan), where=decided > 0)


def bootstrap_winrates(
    counts: np.ndarray, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """The winrate of each seeded bootstrap resample of pairs (NaN for a resample with no usable verdict)."""
    if len(counts) == 0:
        return np.full(resamples, np.nan)
    return winrate_of_counts(counts[bootstrap_indices(len(counts), resamples, seed)].sum(axis=1))


def judge_statistics(
    outcomes: Sequence[PairOutcome],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict[str, float]:
    """Nova's llm_judge metrics for a table of pair outcomes (see the module docstring for definitions)."""
    counts = count_table(outcomes)
    metrics: dict[str, float] = {}
    for column, name in enumerate(_COUNT_NAMES):
        metrics[name] = float(counts[:, column].sum())
        metrics[f"{name}_stderr"] = mean_stderr(counts[:, column] / 2)
    metrics["score"] = metrics["b_scores"]
    metrics["score_stderr"] = metrics["b_scores_stderr"]
    winrate = float(winrate_of_counts(counts.sum(axis=0))[0])
    resampled = bootstrap_winrates(counts, resamples, seed)
    resampled = resampled[np.isfinite(resampled)]
    if np.isnan(winrate) or resampled.size == 0:
        # No usable verdict: nothing is known, so the interval spans every possible winrate.
        metrics.update(winrate=0.5, lower_rate=0.0, upper_rate=1.0)
    else:
        lower, upper = np.percentile(resampled, [2.5, 97.5])
        metrics.update(winrate=winrate, lower_rate=float(lower), upper_rate=float(upper))
    return metrics
