"""Continuous batching for local generation: each prompt prefilled alone, the replies decoded together.

``model.generate`` on a left-padded batch spends most of a CPU's time on things other than the model:

* the key/value cache grows by concatenation (``DynamicCache``): every decoding step copies the whole cache
  of every layer, which at a few hundred prompt tokens costs more than the model's own matrix products;
* the prefill computes the padding of the shorter prompts (gen_qa prompts with tool specs range over hundreds
  of tokens), and attention with a padding mask is slower than plain causal attention;
* a batch runs until its longest reply ends, computing the rows that ended long before.

:func:`decode` instead prefills each prompt alone, with no padding and with the prefix it shares with the
prompt before it computed once (:class:`PrefixSharingPrefill`), and copies its cache into a preallocated
window that the active rows share (:class:`DecodingWindow`: the rows' columns end together at the write
cursor; a row's first columns are masked when its prompt is shorter). A decoding step writes each new token's
keys and values in place, and attention (:func:`window_attention`) reads the window as it is stored. A row
that ends leaves at once and the next prompt takes its place, so the batch stays full while prompts wait.

The replies equal one-prompt-at-a-time decoding up to floating-point rounding (the same masked softmax over
the same keys). :func:`supports` says whether a model's cache is one the window can stand in for (every layer
full attention); others go through ``model.generate``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

import torch
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer

from nova_dpo.platforms.local.attention import attention_implementation

if TYPE_CHECKING:
    from transformers import PreTrainedModel

log = logging.getLogger(__name__)

#: Columns a decoding window keeps free after its cursor, and lets pile up unused before its live columns,
#: before it moves them: more moves (a copy each) against more masked columns computed at every step.
_SLACK = 48
#: The attention implementation the model runs while :func:`decode` decodes (see :func:`window_attention`).
ATTENTION = "nova_dpo_window"


@dataclass(frozen=True)
class DecodeRequest:
    """One prompt to continue: its token ids and the most new tokens its reply may have."""

    prompt: Sequence[int]
    max_new_tokens: int


@dataclass
class DecodedRow:
    """A reply's new token ids (with the EOS that ended it, if one did) and why it ended."""

    tokens: list[int] = field(default_factory=list)
    ended_by: str = ""  # "eos", "stop" or "length"


class TokenChooser:
    """Picks the next token of each row from its logits: the likeliest (greedy) or a sample.

    Sampling applies transformers' temperature, top-k and top-p warpers (top-k 0 and top-p 1.0 are off), and
    draws with a generator of its own, so a seed gives the same replies whatever else uses torch's RNG.
    """

    def __init__(self, temperature: float, top_k: int, top_p: float, seed: int, device: str) -> None:
        from transformers.generation.logits_process import (
            LogitsProcessorList,
            TemperatureLogitsWarper,
            TopKLogitsWarper,
            TopPLogitsWarper,
        )

        self.greedy = temperature == 0
        self.warpers = LogitsProcessorList()
        if not self.greedy:
            self.warpers.append(TemperatureLogitsWarper(temperature))
            if top_k > 0:
                self.warpers.append(TopKLogitsWarper(top_k))
            if top_p < 1.0:
                self.warpers.append(TopPLogitsWarper(top_p))
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """``logits``: ``[rows, vocabulary]``; the chosen token ids, ``[rows]``."""
        if self.greedy:
            return logits.argmax(-1)
        scores = self.warpers(None, logits.float())
        probabilities = torch.softmax(scores, dim=-1)
        return torch.multinomial(probabilities, 1, generator=self.generator).squeeze(1)


class PrefixSharingPrefill:
    """Prefills one prompt at a time (no padding), reusing the keys and values of the prefix it shares with
    the prompt prefilled before it.

    gen_qa prompts of one dataset begin alike (the chat template's system turn, the tool-calling instruction,
    often the same tool specs): in prompts sorted by their token ids, each shares its longest common prefix
    with a neighbour, so the prefill computes each distinct prefix once (what a prefix tree of the prompts
    would save). At least the last token of a prompt is always computed, for its logits.
    """

    def __init__(self, model: PreTrainedModel) -> None:
        self.model = model
        self.previous: tuple[list[int], DynamicCache] | None = None
        self.prompt_tokens = self.reused_tokens = 0

    def __call__(self, prompt: list[int]) -> tuple[torch.Tensor, DynamicCache]:
        """The logits of the token after ``prompt`` (``[1, vocabulary]``) and the prompt's cache."""
        cache = DynamicCache(config=self.model.config)
        shared = 0
        if self.previous is not None:
            before, before_cache = self.previous
            shared = _common_prefix_length(before, prompt, len(prompt) - 1)
            for index, layer in enumerate(before_cache.layers if shared else ()):
                cache.update(layer.keys[:, :, :shared], layer.values[:, :, :shared], index)
        output = self.model(
            input_ids=torch.tensor([prompt[shared:]], device=self.model.device),
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        self.previous = (prompt, cache)
        self.prompt_tokens += len(prompt)
        self.reused_tokens += shared
        return output.logits[:, -1], cache


def _common_prefix_length(first: Sequence[int], second: Sequence[int], limit: int) -> int:
    length = 0
    for a, b in zip(first[:limit], second[:limit], strict=False):
        if a != b:
            break
        length += 1
    return length


class DecodingWindow:
    """The key/value cache of the rows being decoded together, preallocated, with their attention mask.

    Active rows are rows ``0..rows-1``; columns ``start..cursor-1`` are live, and a decoding step writes
    column ``cursor``. A row's prompt is placed so that it ends at the cursor; the columns before it are
    masked for that row. Each layer's values live in a ``[rows, heads, columns, head_dim]`` buffer and its
    keys in a ``[rows, heads, head_dim, columns]`` one, which are exactly the operands of the two batched
    products of attention (``q k^T`` and ``p v``).

    Attention reads all the columns of the active rows, masked, not a slice of the live ones: a column slice
    of a multi-row buffer is strided, and ``matmul`` would copy it whole at every layer and step (on a CPU
    that copy costs several times the product). So the window is kept tight: at most :data:`_SLACK` columns
    after the cursor and, before ``start``, columns no row uses any more; when either runs out or piles up,
    the live columns are moved into a new window (one copy every few dozen steps).
    """

    def __init__(self, capacity_rows: int, device: torch.device | str) -> None:
        self.capacity_rows = capacity_rows
        self.device = device
        self.rows = 0
        self.start = self.cursor = self.columns = 0
        self.keys: list[torch.Tensor] = []  # per layer: [rows, heads, head_dim, columns]
        self.values: list[torch.Tensor] = []  # per layer: [rows, heads, columns, head_dim]
        self.mask = torch.zeros(capacity_rows, 0, dtype=torch.bool, device=device)
        self.first_column: list[int] = []  # per active row: where its prompt begins
        self.reserved = 0  # the longest prompt about to be added (see reserve)
        self.moves = 0  # how often the live columns were moved to a new window (for the log)

    @property
    def width(self) -> int:
        return self.cursor - self.start

    def cache(self) -> Cache:
        """A transformers ``Cache`` whose layers write into this window and read it in place."""
        return Cache(layers=[_WindowLayer(self, index) for index in range(len(self.keys))])

    def reserve(self, length: int) -> None:
        """Make room before the cursor for prompts of up to ``length`` tokens about to be added: one move for
        all of them, instead of one per prompt longer than the cursor."""
        self.reserved = length
        if self.keys and self.cursor < length:
            self._move(length - self.width)

    def add_row(self, prefill: DynamicCache, length: int) -> int:
        """Place a prompt's prefilled cache (one row of ``length`` columns) in a new row; its index."""
        if self.rows == self.capacity_rows:
            raise RuntimeError("the decoding window has no free row")
        layers = prefill.layers
        if not self.keys:
            self._allocate(layers)
        if self.cursor < length:
            # The prompt must end at the cursor: move the live columns right to make room before it.
            self._move(max(length, self.reserved) - self.width)
        row, placed = self.rows, slice(self.cursor - length, self.cursor)
        for keys, values, layer in zip(self.keys, self.values, layers, strict=True):
            keys[row, :, :, placed] = layer.keys[0].transpose(-1, -2)
            values[row, :, placed] = layer.values[0]
        self.mask[row].zero_()
        self.mask[row, placed] = True
        self.first_column.append(placed.start)
        self.start = min(self.first_column)
        self.rows += 1
        return row

    def remove_rows(self, rows: Sequence[int]) -> list[int]:
        """Drop ``rows``; the last active rows move into their places. The new order of the remaining rows,
        as their former indices."""
        order = list(range(self.rows))
        for row in sorted(rows, reverse=True):
            last = self.rows - 1
            if row != last:
                self._copy_row(last, row)
                order[row] = order[last]
                self.first_column[row] = self.first_column[last]
            order.pop()
            self.first_column.pop()
            self.rows -= 1
        self.start = min(self.first_column) if self.rows else self.cursor
        return order

    def prepare_step(self) -> torch.Tensor:
        """Make room for one more column; the step's additive attention mask over the window's columns,
        ``[rows, 1, 1, columns]`` (0 where a row attends, -inf where it does not), in float32 as the scores."""
        if self.cursor == self.columns or self.start > _SLACK:
            self._move(0)
        self.mask[: self.rows, self.cursor] = True
        allowed = self.mask[: self.rows]
        additive = torch.zeros(allowed.shape, dtype=torch.float32, device=allowed.device)
        return additive.masked_fill_(~allowed, float("-inf"))[:, None, None, :]

    def finish_step(self) -> None:
        self.cursor += 1

    def write(
        self, index: int, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer ``index``'s keys and values of the step's token (``[rows, heads, 1, dim]``) written at the
        cursor; the active rows' keys and values, all columns, in the usual ``[rows, heads, columns, dim]``
        shape (the keys as a transposed view of their buffer)."""
        rows = self.rows
        self.keys[index][:rows, :, :, self.cursor] = keys[:, :, 0]
        self.values[index][:rows, :, self.cursor] = values[:, :, 0]
        return self.keys[index][:rows].transpose(-1, -2), self.values[index][:rows]

    def _allocate(self, layers: Sequence[DynamicLayer]) -> None:
        for layer in layers:
            _, heads, _, dim = layer.keys.shape
            self.keys.append(layer.keys.new_zeros((self.capacity_rows, heads, dim, 0)))
            self.values.append(layer.values.new_zeros((self.capacity_rows, heads, 0, dim)))

    def _move(self, new_start: int) -> None:
        """Move the live columns to begin at ``new_start`` in a new window with :data:`_SLACK` columns after
        them. Zeros, not empty memory, around them: a masked column still enters the products (times 0)."""
        live, target = slice(self.start, self.cursor), slice(new_start, new_start + self.width)
        columns = target.stop + _SLACK
        for index, keys in enumerate(self.keys):
            moved = keys.new_zeros((*keys.shape[:3], columns))
            moved[..., target] = keys[..., live]
            self.keys[index] = moved
        for index, values in enumerate(self.values):
            moved = values.new_zeros((*values.shape[:2], columns, values.shape[3]))
            moved[:, :, target] = values[:, :, live]
            self.values[index] = moved
        mask = self.mask.new_zeros((self.capacity_rows, columns))
        mask[:, target] = self.mask[:, live]
        shift = new_start - self.start
        self.mask, self.columns = mask, columns
        self.first_column = [column + shift for column in self.first_column]
        self.start, self.cursor = target.start, target.stop
        self.moves += 1

    def _copy_row(self, source: int, target: int) -> None:
        live = slice(self.start, self.cursor)
        for keys, values in zip(self.keys, self.values, strict=True):
            keys[target, ..., live] = keys[source, ..., live]
            values[target, :, live] = values[source, :, live]
        self.mask[target] = self.mask[source]


class _WindowLayer(DynamicLayer):
    """A cache layer backed by a :class:`DecodingWindow`: ``update`` writes in place and returns views."""

    def __init__(self, window: DecodingWindow, index: int) -> None:
        super().__init__()
        self.window, self.index = window, index
        self.is_initialized = True
        self.device = window.device

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any):
        self.keys, self.values = self.window.write(self.index, key_states, value_states)
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.window.width


def window_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Attention of one new token per row over the window's columns, with the window's additive mask.

    For a single query token, PyTorch's fused CPU kernel is dominated by its set-up (about twice the time of
    two small matrix products here), so a decoding step computes ``softmax(q k^T * scale + mask) v`` itself,
    the query heads grouped by the key/value head they share (grouped-query attention without repeating the
    keys). Anything else (a prompt's prefill, with a boolean or no mask) goes to transformers' SDPA attention.
    Inference only: no dropout.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if query.shape[2] != 1 or attention_mask is None or attention_mask.dtype == torch.bool:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    rows, heads, _, dim = query.shape
    groups = key.shape[1]
    grouped = query.view(rows, groups, heads // groups, dim)
    scale = scaling if scaling is not None else dim**-0.5
    # ``key`` is a transposed view of the window's [rows, heads, dim, columns] keys: transposed back, the
    # product reads them in place.
    scores = torch.matmul(grouped, key.transpose(-1, -2)).float() * scale + attention_mask
    output = torch.matmul(torch.softmax(scores, dim=-1).to(value.dtype), value)
    return output.reshape(rows, heads, 1, dim).transpose(1, 2), None


def supports(model: PreTrainedModel) -> bool:
    """Whether every layer of the model's cache is plain full attention (what :class:`DecodingWindow` holds);
    sliding-window, linear-attention and other caches go through ``model.generate``."""
    try:
        layers = DynamicCache(config=model.config).layers
    except Exception:  # a config transformers' cache cannot read: use generate
        return False
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def decode(
    model: PreTrainedModel,
    requests: Sequence[DecodeRequest],
    chooser: TokenChooser,
    eos_token_ids: Sequence[int],
    batch_size: int,
    ended: Callable[[list[int]], bool] | None = None,
    on_row_done: Callable[[int, DecodedRow], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> list[DecodedRow]:
    """The replies to ``requests``, in their order, decoded ``batch_size`` rows at a time.

    Prompts are taken in the order given (pass the longest first: a row placed next to longer rows only
    masks columns, and the window never has to move right). A row ends at an EOS token, at its
    ``max_new_tokens``, or when ``ended`` (given the row's new tokens) says so (stop strings).

    :param on_row_done: called with each request's index and reply as soon as it ends (progress).
    :param on_step: called after each step with the prompt tokens prefilled and the new tokens chosen since the
        step before (progress while no row has ended yet).
    """
    from transformers.masking_utils import sdpa_mask

    with attention_implementation(model, ATTENTION, window_attention, sdpa_mask):
        return _decode(model, requests, chooser, eos_token_ids, batch_size, ended, on_row_done, on_step)


def _decode(
    model: PreTrainedModel,
    requests: Sequence[DecodeRequest],
    chooser: TokenChooser,
    eos_token_ids: Sequence[int],
    batch_size: int,
    ended: Callable[[list[int]], bool] | None,
    on_row_done: Callable[[int, DecodedRow], None] | None,
    on_step: Callable[[int, int], None] | None = None,
) -> list[DecodedRow]:
    device = model.device
    eos = set(eos_token_ids)
    replies: list[DecodedRow | None] = [None] * len(requests)
    queue = deque(range(len(requests)))
    window = DecodingWindow(batch_size, device)
    prefill = PrefixSharingPrefill(model)
    cache: Cache | None = None
    active: list[int] = []  # request index per window row
    last_tokens: list[int] = []
    positions: list[int] = []

    def finish(index: int, row: DecodedRow, why: str) -> None:
        row.ended_by = why
        replies[index] = row
        if on_row_done:
            on_row_done(index, row)

    def why_ended(index: int, row: DecodedRow) -> str:
        if row.tokens[-1] in eos:
            return "eos"
        if ended is not None and ended(row.tokens):
            return "stop"
        return "length" if len(row.tokens) >= requests[index].max_new_tokens else ""

    rows: list[DecodedRow] = []
    while queue or active:
        free = batch_size - len(active)
        if queue and free:
            window.reserve(max(len(requests[index].prompt) for index in islice(queue, free)))
        prefilled = prefill.prompt_tokens
        while queue and len(active) < batch_size:
            index = queue.popleft()
            prompt = list(requests[index].prompt)
            logits, prompt_cache = prefill(prompt)
            row = DecodedRow([int(chooser(logits)[0])])
            if on_step:
                on_step(prefill.prompt_tokens - prefilled, 1)
                prefilled = prefill.prompt_tokens
            why = why_ended(index, row)
            if why:
                finish(index, row, why)
                continue
            window.add_row(prompt_cache, len(prompt))
            active.append(index)
            rows.append(row)
            last_tokens.append(row.tokens[-1])
            positions.append(len(prompt))
        if not active:
            continue
        if cache is None:  # once the first row has sized the buffers (its layers read them at each step)
            cache = window.cache()
        mask = window.prepare_step()
        output = model(
            input_ids=torch.tensor(last_tokens, device=device)[:, None],
            position_ids=torch.tensor(positions, device=device)[:, None],
            attention_mask=mask,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        window.finish_step()
        chosen = chooser(output.logits[:, -1]).tolist()
        if on_step:
            on_step(0, len(chosen))
        done = []
        for slot, token in enumerate(chosen):
            rows[slot].tokens.append(token)
            last_tokens[slot] = token
            positions[slot] += 1
            why = why_ended(active[slot], rows[slot])
            if why:
                finish(active[slot], rows[slot], why)
                done.append(slot)
        if done:
            order = window.remove_rows(done)
            active = [active[slot] for slot in order]
            rows = [rows[slot] for slot in order]
            last_tokens = [last_tokens[slot] for slot in order]
            positions = [positions[slot] for slot in order]
    if prefill.prompt_tokens > 1:
        log.info(
            "prefill: %d of %d prompt tokens computed, %d reused from a prefix shared with the prompt before "
            "(%.0f%%); the decoding window moved %d time(s)",
            prefill.prompt_tokens - prefill.reused_tokens,
            prefill.prompt_tokens,
            prefill.reused_tokens,
            100 * prefill.reused_tokens / prefill.prompt_tokens,
            window.moves,
        )
    return [reply for reply in replies if reply is not None]
