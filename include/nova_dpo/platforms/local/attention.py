"""Running a transformers model with one of our attention functions.

transformers looks the attention function up by name (``config._attn_implementation``) in its
``AttentionInterface`` at every layer call; the mask builder looks in ``AttentionMaskInterface`` under the same
name, and builds no mask for a name it does not know. :func:`use_attention` registers a function and switches
the model to it; :func:`attention_implementation` does so until a block ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def use_attention(
    model: PreTrainedModel, name: str, function: Callable, mask_function: Callable | None = None
) -> str:
    """Make ``function`` (registered as ``name``) the model's attention; return the implementation it replaces.

    :param mask_function: the mask builder for ``name`` (e.g. transformers' ``sdpa_mask``); None builds no mask, so
        the attention function gets ``attention_mask=None`` and brings its own.
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(name, function)
    if mask_function is not None:
        AttentionMaskInterface.register(name, mask_function)
    before = model.config._attn_implementation
    model.config._attn_implementation = name
    return before


@contextmanager
def attention_implementation(
    model: PreTrainedModel, name: str, function: Callable, mask_function: Callable | None = None
) -> Iterator[None]:
    """Run ``model`` with ``function`` as its attention (see :func:`use_attention`), restored afterwards."""
    before = use_attention(model, name, function, mask_function)
    try:
        yield
    finally:
        model.config._attn_implementation = before
