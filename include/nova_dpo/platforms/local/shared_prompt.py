"""Shared-prompt DPO forward: both completions of a preference pair scored in one sequence.

TRL's DPO batch holds every pair twice: ``prompt + chosen`` in row ``i`` and ``prompt + rejected`` in row ``n + i``.
The prompt therefore runs through the model twice, and in tool-use data the prompt (the system message with the tool
specifications) is most of the tokens. Off Triton devices, TRL's fused LM head also scores every position, the
prompt's included, and the head of a small model with a 49k vocabulary is a fifth of its weights.

Here each pair becomes one sequence ``prompt + chosen + rejected`` (prefix sharing; Wang et al. 2024, "Accelerating
Direct Preference Optimization with Prefix Sharing"):

- a block attention mask lets prompt tokens see the prompt causally, chosen tokens see the prompt and the chosen
  tokens before them, and rejected tokens see the prompt and the rejected tokens before them, never the chosen ones;
- position ids restart after the prompt for the rejected completion, so both completions sit at the positions they
  have in TRL's layout;
- the LM head runs on the completion positions only;
- the pairs of a micro-batch lie end to end in one row, unpadded (pairs differ in length by a third on tool-use
  data, so padding to the longest cost about 15% of a step), and attention runs pair by pair.

Every completion token has exactly the context it has in TRL's layout, so the log-probabilities are the same (up to
floating-point summation order) at about half the cost. The result has TRL's ``FusedCausalLMOutput`` shape, scattered
back to the ``[2n, length - 1]`` layout, so the DPO loss and metrics code runs unchanged. A batch that is not laid out
this way (rows ``i`` and ``n + i`` with different prompts, completions that are not one contiguous span) falls back
to TRL's forward.
"""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nova_dpo.platforms.local.attention import use_attention

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

IGNORE_INDEX = -100
PROMPT, CHOSEN, REJECTED = 0, 1, 2
#: The attention implementation the model runs during a packed forward (see :func:`packed_pairs_attention`).
ATTENTION = "nova_dpo_packed_pairs"


@dataclass(frozen=True)
class PackedPairs:
    """A DPO batch of ``n`` pairs packed end to end in one row: ``prompt + chosen + rejected``, pair after pair.

    Nothing is padded: the linear layers, most of a step, see exactly the batch's tokens. Attention runs per pair
    (:func:`packed_pairs_attention`), each pair over its own tokens with its own block mask.

    :param input_ids: ``[1, L]`` packed token ids, ``L`` the sum of the pairs' packed lengths.
    :param position_ids: ``[1, L]``; each pair starts at 0 and its rejected completion restarts at the prompt's
        length.
    :param spans: ``(start, end)`` of each pair in the row.
    :param masks: each pair's ``[1, 1, 1, length, length]`` boolean mask, True where a query may attend a key.
    :param hidden_index: for every scored completion token, the index into the ``L`` hidden states of the one that
        predicts it.
    :param labels: the scored tokens, in the same order.
    :param rows: the row of each scored token in TRL's ``[2n, length - 1]`` output layout.
    :param columns: its column there (the position of the hidden state that predicts it in the unpacked row).
    :param shape: TRL's output shape, ``(2n, length - 1)``.
    """

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    spans: tuple[tuple[int, int], ...]
    masks: tuple[torch.Tensor, ...]
    hidden_index: torch.Tensor
    labels: torch.Tensor
    rows: torch.Tensor
    columns: torch.Tensor
    shape: tuple[int, int]


def _completion_span(scored_row: torch.Tensor) -> tuple[int, int] | None:
    """``(start, length)`` of the row's scored tokens if they form one non-empty contiguous span, else None."""
    import torch

    positions = torch.nonzero(scored_row).flatten()
    if positions.numel() == 0:
        return None
    start, end = int(positions[0]), int(positions[-1]) + 1
    return (start, end - start) if end - start == positions.numel() else None


def _pair_mask(prompt: int, chosen: int, rejected: int) -> torch.Tensor:
    """``[1, 1, 1, T, T]`` (batch, key/value head, query head in its group, query, key): causal, and a completion
    token sees the prompt and its own completion, never the other."""
    import torch

    segments = torch.tensor([PROMPT] * prompt + [CHOSEN] * chosen + [REJECTED] * rejected)
    order = torch.arange(segments.numel())
    query, key = segments[:, None], segments[None, :]
    mask = (order[:, None] >= order[None, :]) & ((key == PROMPT) | (key == query))
    return mask[None, None, None]


def pack_pairs(input_ids: torch.Tensor, labels: torch.Tensor) -> PackedPairs | None:
    """Pack TRL's ``[chosen rows; rejected rows]`` batch, or None when the batch is not laid out that way."""
    import torch

    if input_ids.dim() != 2 or input_ids.shape != labels.shape or input_ids.shape[0] % 2:
        return None
    n, length = input_ids.shape[0] // 2, input_ids.shape[1]
    scored = labels != IGNORE_INDEX
    pairs = []
    for i in range(n):
        chosen, rejected = _completion_span(scored[i]), _completion_span(scored[n + i])
        if chosen is None or rejected is None or chosen[0] != rejected[0] or chosen[0] == 0:
            return None
        prompt = chosen[0]
        if not torch.equal(input_ids[i, :prompt], input_ids[n + i, :prompt]):
            return None
        pairs.append((prompt, chosen[1], rejected[1]))

    tokens, positions, spans, masks = [], [], [], []
    hidden_index, scored_tokens, rows, columns = [], [], [], []
    start = 0
    for i, (p, c, r) in enumerate(pairs):
        tokens += [input_ids[i, : p + c], input_ids[n + i, p : p + r]]
        positions += [torch.arange(p + c), torch.arange(p, p + r)]
        spans.append((start, start + p + c + r))
        masks.append(_pair_mask(p, c, r))
        # Token k of a completion is predicted by the hidden state before it: the prompt's last one for k = 0.
        chosen_hidden = [p - 1, *range(p, p + c - 1)]
        rejected_hidden = [p - 1, *range(p + c, p + c + r - 1)]
        hidden_index += [start + h for h in chosen_hidden + rejected_hidden]
        scored_tokens += input_ids[i, p : p + c].tolist() + input_ids[n + i, p : p + r].tolist()
        rows += [i] * c + [n + i] * r
        columns += list(range(p - 1, p - 1 + c)) + list(range(p - 1, p - 1 + r))
        start += p + c + r
    return PackedPairs(
        input_ids=torch.cat(tokens)[None],
        position_ids=torch.cat(positions)[None],
        spans=tuple(spans),
        masks=tuple(masks),
        hidden_index=torch.tensor(hidden_index, dtype=torch.long),
        labels=torch.tensor(scored_tokens, dtype=torch.long),
        rows=torch.tensor(rows, dtype=torch.long),
        columns=torch.tensor(columns, dtype=torch.long),
        shape=(2 * n, length - 1),
    )


def packed_pairs_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    *,
    pair_spans: tuple[tuple[int, int], ...] | None = None,
    pair_blocked: tuple[torch.Tensor, ...] | None = None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Attention over a row of packed pairs, pair by pair, each over its own tokens; without pairs, SDPA.

    The model keeps this implementation from :func:`add_shared_prompt_forward` on: the packed forward passes
    ``pair_spans`` and ``pair_blocked`` down through the layers as keyword arguments, so activation checkpointing
    recomputes a layer with them; any other call (TRL's own forward, a batch that is not packed) gets
    transformers' SDPA attention with the usual mask.

    One mask over the whole row would cost the square of the row's length and attend across pairs only to mask
    it away; per pair, attention costs the sum of the pairs' squares. Each pair's attention is two matrix
    products and a softmax in the compute dtype (bfloat16 under autocast: the numerics of transformers' eager
    attention), the query heads grouped by the key/value head they share, so grouped-query attention needs no
    repeated keys. For a 500-token pair on a CPU without AMX this is 2.2 times as fast, forward and backward, as
    PyTorch's fused kernel with a mask, which accumulates in float32 and is built for long sequences.

    :param pair_spans: ``(start, end)`` of each pair in the row.
    :param pair_blocked: each pair's ``[1, 1, 1, length, length]`` mask, True where a query may *not* attend a key.
    """
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if pair_spans is None or pair_blocked is None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    _, heads, _, dim = query.shape
    groups = key.shape[1]
    scale = scaling if scaling is not None else dim**-0.5
    outputs = []
    for (start, end), blocked in zip(pair_spans, pair_blocked, strict=True):
        length = end - start
        grouped = (query[:, :, start:end] * scale).reshape(1, groups, heads // groups * length, dim)
        scores = torch.matmul(grouped, key[:, :, start:end].transpose(-1, -2))
        scores = scores.view(1, groups, heads // groups, length, length).masked_fill(blocked, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if dropout and module.training:
            weights = torch.nn.functional.dropout(weights, p=dropout)
        output = torch.matmul(
            weights.view(1, groups, heads // groups * length, length), value[:, :, start:end]
        )
        outputs.append(output.view(1, heads, length, dim).transpose(1, 2))
    return torch.cat(outputs, dim=1), None


def _scatter(values: torch.Tensor, packed: PackedPairs) -> torch.Tensor:
    """Per-token values back in TRL's ``[2n, length - 1]`` layout, zero where nothing is scored."""
    return values.new_zeros(packed.shape).index_put((packed.rows, packed.columns), values)


def packed_forward(model: PreTrainedModel, packed: PackedPairs) -> Any:
    """Run the backbone on the packed pairs and the LM head on the completion positions only.

    Returns TRL's ``FusedCausalLMOutput`` in the unpacked layout (temperature 1, as the DPO trainer uses).
    """
    import torch
    from trl.trainer.utils import FusedCausalLMOutput

    device = model.get_output_embeddings().weight.device
    hidden = model.base_model(
        input_ids=packed.input_ids.to(device),
        position_ids=packed.position_ids.to(device),
        use_cache=False,
        pair_spans=packed.spans,
        pair_blocked=tuple(~mask.to(device) for mask in packed.masks),
    ).last_hidden_state
    hidden = hidden.reshape(-1, hidden.shape[-1])[packed.hidden_index.to(device)]
    logits = model.get_output_embeddings()(hidden).float()
    labels = packed.labels.to(device)
    log_softmax = logits.log_softmax(dim=-1)
    log_probs = log_softmax.gather(-1, labels[:, None]).squeeze(-1)
    entropy = -(log_softmax.exp() * log_softmax).sum(-1)
    with torch.no_grad():
        log_sum_sq_probs = torch.logsumexp(2 * log_softmax, dim=-1)
        mean_logits = logits.mean(-1)
        is_top1 = logits.argmax(-1) == labels

    rows, columns = packed.rows.to(device), packed.columns.to(device)
    label_mask = torch.zeros(packed.shape, dtype=torch.bool, device=device)
    label_mask[rows, columns] = True
    return FusedCausalLMOutput(
        loss=-log_probs.sum() / max(1, labels.numel()),
        log_probs=_scatter(log_probs, packed),
        entropy=_scatter(entropy, packed),
        log_sum_sq_probs=_scatter(log_sum_sq_probs, packed),
        mean_logits=_scatter(mean_logits, packed),
        is_top1=_scatter(is_top1, packed),
        label_mask=label_mask,
    )


def _supports_packing(model: PreTrainedModel) -> bool:
    """Whether the packed forward computes what TRL's head would: plain logits, position-id RoPE, SDPA/eager."""
    config = model.config.get_text_config()
    scaled = any(
        getattr(config, name, None) not in (None, 1.0)
        for name in ("final_logit_softcapping", "logit_scale", "output_multiplier", "logits_scaling")
    )
    return not scaled and config._attn_implementation in ("sdpa", "eager")


def add_shared_prompt_forward(model: PreTrainedModel) -> bool:
    """Make ``model(input_ids=..., labels=..., fused_lm_head=True)`` pack DPO pairs; return whether it was added.

    Call it on the causal LM that TRL gave a fused head (``trainer.model.get_base_model()`` under PEFT), after the
    trainer is built. Every other call goes to the forward it replaces. The model's attention becomes
    :func:`packed_pairs_attention` for good (not for the length of a call: activation checkpointing recomputes
    layers during the backward pass), which is transformers' SDPA attention for anything but packed pairs.
    """
    from transformers.masking_utils import sdpa_mask

    if not _supports_packing(model):
        return False
    use_attention(model, ATTENTION, packed_pairs_attention, sdpa_mask)
    fused_forward = model.forward

    @functools.wraps(type(model).forward)
    def forward(self, *args, fused_lm_head=False, labels=None, **kwargs):
        # PEFT passes its unused arguments on as None; anything else set (embeddings, caches) is not a DPO batch.
        extra = {key for key, value in kwargs.items() if value is not None} - {
            "input_ids",
            "attention_mask",
            "use_cache",
        }
        if fused_lm_head and not args and not extra and labels is not None and "input_ids" in kwargs:
            packed = pack_pairs(kwargs["input_ids"].cpu(), labels.cpu())
            if packed is not None:
                return packed_forward(self, packed)
        return fused_forward(*args, fused_lm_head=fused_lm_head, labels=labels, **kwargs)

    model.forward = types.MethodType(forward, model)
    return True
