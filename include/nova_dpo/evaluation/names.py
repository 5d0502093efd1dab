"""The names of the metrics the evaluation reports, without the code that computes them.

Kept apart so that what only needs the names (the gate's rules, the trigger form) imports no numerics.
"""

# Nova's gen_qa metric names, in the order its results list them.
GEN_QA_METRICS = (
    "rouge1",
    "rouge2",
    "rougeL",
    "exact_match",
    "quasi_exact_match",
    "f1_score",
    "f1_score_quasi",
    "bleu",
)

# The aggregate tool-use metrics of nova_dpo.evaluation.tool_metrics (per-category behaviour accuracies,
# ``behaviour_accuracy_<category>``, come on top when the data holds the category).
TOOL_USE_METRICS = (
    "tool_call_precision",
    "tool_call_recall",
    "tool_call_f1",
    "tool_name_accuracy",
    "tool_args_exact_match",
    "behaviour_accuracy",
)
BEHAVIOUR_ACCURACY_PREFIX = "behaviour_accuracy_"
# Shares of answers gone wrong (nova_dpo.evaluation.tool_metrics): reported and open to gate rules, but not
# watched by default (from a baseline that makes no calls, any rate above 0 is an infinite relative loss).
TOOL_ERROR_RATES = ("tool_hallucination_rate", "malformed_call_rate")
# The metrics where a smaller value is better; the gate orients every comparison by this set.
LOWER_IS_BETTER = frozenset(TOOL_ERROR_RATES)
# The outcome mix: how many answers to the prompts of one expected behaviour had each outcome. Counts that
# describe the answers, for the report; the gate compares no count.
OUTCOME_MIX_PREFIX = "outcome_mix_"
_OUTCOME_MIX_JOIN = "_as_"

# Bootstrap defaults shared by the evaluation statistics and the gate's rules.
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0


def outcome_mix_metric(expected: str, outcome: str) -> str:
    """The name of the count of answers with ``outcome`` among the prompts that expected ``expected``, e.g.
    ``outcome_mix_cannot_answer_as_direct``."""
    return f"{OUTCOME_MIX_PREFIX}{expected}{_OUTCOME_MIX_JOIN}{outcome}"


def outcome_mix_cell(name: str) -> tuple[str, str] | None:
    """``(expected, outcome)`` of an :func:`outcome_mix_metric` name; None for any other name."""
    if not name.startswith(OUTCOME_MIX_PREFIX) or _OUTCOME_MIX_JOIN not in name:
        return None
    expected, outcome = name.removeprefix(OUTCOME_MIX_PREFIX).rsplit(_OUTCOME_MIX_JOIN, 1)
    return expected, outcome


def reported_metrics() -> frozenset[str]:
    """Every metric a gen_qa evaluation can report and a gate rule can name: Nova's, the tool-use aggregates
    and error rates, and the per-behaviour accuracies of When2Call's answer kinds."""
    from nova_dpo.data.when2call import CATEGORIES, DIRECT

    return frozenset(
        {
            *GEN_QA_METRICS,
            *TOOL_USE_METRICS,
            *TOOL_ERROR_RATES,
            *(BEHAVIOUR_ACCURACY_PREFIX + category for category in (*CATEGORIES, DIRECT)),
        }
    )
