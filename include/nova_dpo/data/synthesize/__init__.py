"""Synthetic When2Call ``train_pref`` data, so the pipeline can run and be tested offline.

Rows have the exact schema of ``nvidia/When2Call`` config ``train_pref`` and teach *when* to call a tool:

* ``tool_call``: the question states every required argument of an offered tool; the chosen answer calls it
  with the arguments copied from the question.
* ``request_for_info``: the question names an offered tool's intent but leaves out one required argument; the
  chosen answer is a short question asking for exactly that argument.
* ``cannot_answer``: the question's intent belongs to a tool that is not offered; the chosen answer is a
  polite refusal.

The rejected answer comes, uniformly, from one of the other behaviours or from ``direct`` (a confident,
hallucinated answer given without calling a tool), as in When2Call's own preference data.

Questions come from a catalogue of tools across many domains, several phrasings per intent and large value
pools, so the prompts of a held-out split are new combinations rather than repeats. The stream is a pure
function of ``(rows, seed)``: the same call writes the same bytes, and a longer stream starts with a shorter.

The package splits that by concern: :mod:`.catalogue` (the tools, as data), :mod:`.vocabulary` (value pools
and answer wording), :mod:`.templates` (the phrasing language), :mod:`.tools` and :mod:`.sampling` (what an
entry is and how its values are drawn), :mod:`.generator` (examples) and :mod:`.files` (writing them).
"""

from nova_dpo.data.synthesize.catalogue import TOOLS
from nova_dpo.data.synthesize.files import FILE_NAME, write_synthetic
from nova_dpo.data.synthesize.generator import (
    BEHAVIOURS,
    DICT_TOOLS_SHARE,
    DIRECT,
    OPTIONAL_MENTION_SHARE,
    REQUEST_FOR_INFO_SHARE,
    TOOL_CALL_SHARE,
    SyntheticExample,
    synthesize_examples,
    synthesize_rows,
)
from nova_dpo.data.synthesize.sampling import Sampler
from nova_dpo.data.synthesize.templates import Template
from nova_dpo.data.synthesize.tools import Param, ToolSpec

__all__ = [
    "BEHAVIOURS",
    "DICT_TOOLS_SHARE",
    "DIRECT",
    "FILE_NAME",
    "OPTIONAL_MENTION_SHARE",
    "REQUEST_FOR_INFO_SHARE",
    "TOOLS",
    "TOOL_CALL_SHARE",
    "Param",
    "Sampler",
    "SyntheticExample",
    "Template",
    "ToolSpec",
    "synthesize_examples",
    "synthesize_rows",
    "write_synthetic",
]
