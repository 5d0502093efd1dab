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

# Bootstrap defaults shared by the evaluation statistics and the gate's rules.
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0


def reported_metrics() -> frozenset[str]:
    """Every metric a gen_qa evaluation can report: Nova's, the tool-use aggregates and the per-behaviour
    accuracies of When2Call's categories."""
    from nova_dpo.data.when2call import CATEGORIES

    return frozenset(
        {
            *GEN_QA_METRICS,
            *TOOL_USE_METRICS,
            *(BEHAVIOUR_ACCURACY_PREFIX + category for category in CATEGORIES),
        }
    )
