"""Batched generation with a local model: the engine of the gen_qa evaluation, the local judge and chat.

:class:`TextGenerator` renders chats with the model's chat template and generates in batches: prompts are
sorted by length so a batch holds similar lengths (less padding), padded on the left (a decoder-only model
continues from the last position, so padding must come first), and results are returned in input order.
:class:`InferenceSettings` says how to decode, in the terms of a Nova evaluation recipe's ``inference`` section.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nova_dpo.platforms.local.local_config import (
    DECODER_CHOICES,
    DEFAULT_BATCH_SIZE,
    DEVICE_CHOICES,
    DTYPE_CHOICES,
)
from nova_dpo.platforms.local.model import load_model_and_tokenizer

if TYPE_CHECKING:
    import torch
    from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

ProgressFn = Callable[[dict[str, Any]], None]
Message = Mapping[str, str]

# Used when neither the recipe (llm_judge recipes have none) nor the caller sets max_new_tokens.
DEFAULT_MAX_NEW_TOKENS = 512
RECIPE_INFERENCE_KEYS = ("max_new_tokens", "temperature", "top_k", "top_p", "top_logprobs")

_LOG_INTERVAL_S = 10.0


# ------------------------------------------------------------------------------------------------ settings


@dataclass(frozen=True)
class InferenceSettings:
    """How to decode, in the terms of a Nova evaluation recipe's ``inference`` section.

    :param max_new_tokens: the longest reply, in tokens.
    :param temperature: 0 decodes greedily (Nova: "0 = deterministic"); above 0 samples.
    :param top_k: sample only from the k likeliest tokens; -1 (Nova's "off") or 0 turns it off.
    :param top_p: nucleus sampling threshold; 1.0 turns it off.
    :param stop: strings that end a reply; the reply is cut before the first one.
    """

    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    temperature: float = 0.0
    top_k: int = -1
    top_p: float = 1.0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}.")
        if self.temperature < 0:
            raise ValueError(f"temperature must be 0 (greedy) or positive, got {self.temperature}.")
        if self.top_k < -1:
            raise ValueError(f"top_k must be -1 (off) or non-negative, got {self.top_k}.")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must lie in (0, 1], got {self.top_p}.")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @classmethod
    def from_recipe(
        cls, inference: Mapping[str, Any] | None, max_new_tokens: int | None = None
    ) -> InferenceSettings:
        """Settings from a recipe's ``inference`` section.

        :param max_new_tokens: a local cap on the recipe's value (Nova's default of 8196 is long on a CPU).
        """
        values = dict(inference or {})
        unknown = sorted(set(values) - set(RECIPE_INFERENCE_KEYS))
        if unknown:
            raise ValueError(
                f"Unknown key(s) {unknown} in the recipe's inference section; "
                f"it takes {', '.join(RECIPE_INFERENCE_KEYS)}."
            )
        if values.get("top_logprobs"):
            log.info(
                "inference.top_logprobs=%s is ignored locally: Nova's inference_output.jsonl has no "
                "log-probabilities either.",
                values["top_logprobs"],
            )
        limits = [int(v) for v in (values.get("max_new_tokens"), max_new_tokens) if v is not None]
        if len(limits) == 2 and limits[1] < limits[0]:
            log.info("max_new_tokens capped at %d locally (the recipe says %d).", limits[1], limits[0])
        return cls(
            max_new_tokens=min(limits, default=DEFAULT_MAX_NEW_TOKENS),
            temperature=float(values.get("temperature", 0.0)),
            top_k=int(values.get("top_k", -1)),
            top_p=float(values.get("top_p", 1.0)),
        )

    def generation_config(
        self, max_new_tokens: int, pad_token_id: int, eos_token_ids: list[int]
    ) -> GenerationConfig:
        """The transformers ``GenerationConfig``. Every sampling field is set, so nothing comes from the
        model's own ``generation_config.json`` or from transformers' defaults (top_k=50)."""
        from transformers import GenerationConfig

        if self.greedy:
            # Neutral values: unused by greedy search, and the ones transformers does not warn about.
            sampling: dict[str, Any] = {"do_sample": False, "temperature": 1.0, "top_k": 50, "top_p": 1.0}
        else:
            sampling = {
                "do_sample": True,
                "temperature": self.temperature,
                "top_k": max(self.top_k, 0),  # 0 is transformers' "off"
                "top_p": self.top_p,
            }
        return GenerationConfig(
            max_new_tokens=max_new_tokens,
            pad_token_id=pad_token_id,
            eos_token_id=eos_token_ids,
            **sampling,
        )


# ---------------------------------------------------------------------------------------- device and dtype


def resolve_device(device: str = "auto") -> str:
    import torch

    if device not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {device!r}.")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for, but torch sees no CUDA GPU; use 'cpu' or 'auto'.")
    return device


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively; elsewhere torch emulates it, slower than float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:  # not Linux: stay with float32 rather than guess
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def resolve_dtype(dtype: str, device: str) -> str:
    """``float32`` or ``bfloat16``; ``auto`` picks bfloat16 where ``device`` computes it natively."""
    if dtype not in DTYPE_CHOICES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_CHOICES)}, got {dtype!r}.")
    if dtype != "auto":
        return dtype
    if device == "cuda":
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if cpu_has_native_bf16() else "float32"


# ---------------------------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class Generation:
    """One reply: its text, its length in tokens, and whether it ended by itself (EOS or a stop string)
    rather than at ``max_new_tokens``."""

    text: str
    new_tokens: int
    finished: bool


class ProgressLog:
    """Logs rows done, throughput and ETA every few seconds, and reports them to ``progress``.

    Rows count as they finish (:meth:`update`); a decoder that reports each step (:meth:`advance`) also keeps
    the log going while no row has finished yet: long prompts can take minutes to prefill before the first one
    does.
    """

    def __init__(self, total: int, what: str, progress: ProgressFn | None) -> None:
        self.total, self.what, self.progress = total, what, progress
        self.started = self.last_log = time.monotonic()
        self.rows = self.tokens = self.prompt_tokens = 0

    def update(self, rows: int, tokens: int) -> None:
        """``rows`` more rows finished, with ``tokens`` new tokens not yet counted by :meth:`advance`."""
        self.rows += rows
        self.tokens += tokens
        self._report(force=self.rows == self.total)

    def advance(self, prompt_tokens: int, new_tokens: int) -> None:
        """A decoding step: ``prompt_tokens`` prefilled and ``new_tokens`` generated since the last one."""
        self.prompt_tokens += prompt_tokens
        self.tokens += new_tokens
        if time.monotonic() - self.last_log >= _LOG_INTERVAL_S:
            self._report(force=False)

    def _report(self, force: bool) -> None:
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-9)
        eta = elapsed / self.rows * (self.total - self.rows) if self.rows else None
        report = {
            "stage": self.what,
            "rows_done": self.rows,
            "rows_total": self.total,
            "fraction": round(self.rows / self.total, 4) if self.total else 1.0,
            "new_tokens": self.tokens,
            "prompt_tokens": self.prompt_tokens,
            "tokens_per_second": round(self.tokens / elapsed, 1),
            "elapsed_seconds": round(elapsed, 1),
            "eta_seconds": round(eta, 1) if eta is not None else None,
        }
        if self.progress:
            self.progress(report)
        # A single reply (a chat turn) is not worth a progress line.
        if self.total > 1 and (force or now - self.last_log >= _LOG_INTERVAL_S):
            self.last_log = now
            speed = f", {report['tokens_per_second']} new tokens/s" if self.tokens else ""
            prefilled = f", {self.prompt_tokens:,} prompt tokens prefilled" if self.prompt_tokens else ""
            log.info(
                "%s: %d/%d rows%s%s, elapsed %.0f s, ETA %s",
                self.what,
                self.rows,
                self.total,
                speed,
                prefilled,
                elapsed,
                f"{eta:.0f} s" if eta is not None else "after the first rows finish",
            )


class TextGenerator:
    """A loaded causal LM and its tokenizer, generating chat replies in batches."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, name: str = "") -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name or str(getattr(model.config, "name_or_path", ""))
        eos = {tokenizer.eos_token_id, *_as_list(model.generation_config.eos_token_id)}
        self.eos_token_ids = sorted(token for token in eos if token is not None)
        self.pad_token_id = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_token_ids[0]
        )
        self.context_length = int(getattr(model.config, "max_position_embeddings", 0) or 0) or None

    @classmethod
    def load(
        cls,
        name_or_dir: str | os.PathLike[str],
        dtype: str = "auto",
        device: str = "auto",
        torch_threads: int = 0,
    ) -> TextGenerator:
        """Load a model by name or folder (see :func:`~nova_dpo.platforms.local.model.resolve_model_dir`)."""
        import torch

        if torch_threads:
            torch.set_num_threads(torch_threads)
        device = resolve_device(device)
        dtype = resolve_dtype(dtype, device)
        started = time.monotonic()
        model, tokenizer = load_model_and_tokenizer(str(name_or_dir), dtype=dtype)
        model.to(device)
        log.info(
            "Loaded %s in %.1f s (%s, %s, %d torch threads)",
            name_or_dir,
            time.monotonic() - started,
            dtype,
            device,
            torch.get_num_threads(),
        )
        return cls(model, tokenizer, name=str(name_or_dir))

    @property
    def dtype(self) -> str:
        return str(self.model.dtype).removeprefix("torch.")

    @property
    def device(self) -> str:
        return str(self.model.device)

    def prompt_ids(self, messages: Sequence[Message], prefill: str = "") -> list[int]:
        """Token ids of a chat rendered by the chat template, ready for the assistant's reply.

        :param prefill: text the reply is made to begin with (it is part of the prompt, not of the reply).
        """
        text = self.tokenizer.apply_chat_template(
            [dict(message) for message in messages], tokenize=False, add_generation_prompt=True
        )
        # The template already holds the special tokens; adding BOS again would change the prompt.
        return self.tokenizer(text + prefill, add_special_tokens=False)["input_ids"]

    def answer_log_probs(self, chat: Sequence[Message], answers: Sequence[str]) -> list[float]:
        """The mean log-probability per token the model gives each answer (ended by its end-of-turn token) as the
        reply to ``chat``. The chat runs through the model once; each answer continues from its cached keys and
        values, the cache cut back to the chat after each."""
        import torch
        from transformers import DynamicCache

        end = [self.eos_token_ids[0]] if self.eos_token_ids else []
        prompt = self.prompt_ids(chat)
        scores = []
        with torch.inference_mode():
            cache = DynamicCache()
            ids = torch.tensor([prompt], device=self.model.device)
            first = self.model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1).logits
            for answer in answers:
                scored = self.tokenizer(answer, add_special_tokens=False)["input_ids"] + end
                ids = torch.tensor([scored], device=self.model.device)
                logits = self.model(input_ids=ids, cache=cache, use_cache=True).logits
                cache.crop(-len(scored))
                # The chat's last position predicts the first token; the answer's positions the rest.
                logits = torch.cat([first[0], logits[0, :-1]]).float()
                targets = torch.tensor(scored, device=logits.device)
                scores.append(float(logits.log_softmax(-1).gather(-1, targets[:, None]).mean()))
        return scores

    def generate(
        self,
        chats: Sequence[Sequence[Message]],
        settings: InferenceSettings,
        batch_size: int = DEFAULT_BATCH_SIZE,
        prefill: str = "",
        progress: ProgressFn | None = None,
        what: str = "generate",
        seed: int = 0,
        decoder: str = "auto",
    ) -> list[Generation]:
        """One reply per chat, in the order of ``chats``.

        ``decoder="continuous"`` (``auto`` where :func:`~nova_dpo.platforms.local.decoding.supports` the model:
        every layer attends to the full context, as in Llama, SmolLM2, Qwen2) decodes with continuous
        batching (:mod:`~nova_dpo.platforms.local.decoding`): ``batch_size`` rows at a time, each prompt
        prefilled alone (the prefix it shares with the prompt before computed once), a finished row replaced
        by the next prompt at once. ``padded`` (``auto`` for other models) runs ``model.generate`` on
        left-padded batches of ``batch_size``.
        """
        import torch

        from nova_dpo.platforms.local import decoding

        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        if decoder not in DECODER_CHOICES:
            raise ValueError(f"decoder must be one of {', '.join(DECODER_CHOICES)}, got {decoder!r}.")
        supported = decoding.supports(self.model)
        continuous = decoder == "continuous" or (decoder == "auto" and supported)
        if decoder == "continuous" and not supported:
            raise ValueError(
                f"decoder='continuous' needs a model whose layers all attend to the full context; "
                f"{self.name} has other layers (sliding window, linear attention): use 'padded' or 'auto'."
            )
        prompts = [self.prompt_ids(chat, prefill) for chat in chats]
        tracker = ProgressLog(len(prompts), what, progress)
        with torch.inference_mode():
            if not continuous:
                # Longest first: similar lengths share a padded batch, and one too long fails at once.
                order = sorted(range(len(prompts)), key=lambda index: -len(prompts[index]))
                return self._generate_padded(prompts, order, settings, batch_size, tracker, seed)
            # Sorted by token ids: neighbours share the longest prefixes, which the prefill computes once.
            order = sorted(range(len(prompts)), key=lambda index: prompts[index])
            rooms = self._rooms([len(prompts[index]) for index in order], settings)
            requests = [
                decoding.DecodeRequest(prompts[index], room) for index, room in zip(order, rooms, strict=True)
            ]
            chooser = decoding.TokenChooser(
                settings.temperature, settings.top_k, settings.top_p, seed, self.model.device
            )
            rows = decoding.decode(
                self.model,
                requests,
                chooser,
                self.eos_token_ids,
                batch_size,
                ended=self._stop_check(settings.stop) if settings.stop else None,
                # Tokens are counted step by step (advance); a finished row only adds a row.
                on_row_done=lambda _, row: tracker.update(1, 0),
                on_step=tracker.advance,
            )
        replies: list[Generation | None] = [None] * len(prompts)
        for index, row in zip(order, rows, strict=True):
            replies[index] = self._decode(torch.tensor(row.tokens, dtype=torch.long), settings)
        return [reply for reply in replies if reply is not None]

    def _rooms(self, lengths: Sequence[int], settings: InferenceSettings) -> list[int]:
        """``max_new_tokens`` for prompts of ``lengths`` tokens, each within the model's context."""
        if not self.context_length:
            return [settings.max_new_tokens] * len(lengths)
        longest = max(lengths, default=0)
        if self.context_length - longest < 1:
            raise ValueError(
                f"A prompt of {longest} tokens leaves no room to generate in the model's context of "
                f"{self.context_length} tokens; shorten the system prompt or query."
            )
        rooms = [min(settings.max_new_tokens, self.context_length - length) for length in lengths]
        cut = sum(room < settings.max_new_tokens for room in rooms)
        if cut:
            log.warning(
                "max_new_tokens cut below %d for %d prompt(s) to fit the model's context of %d tokens",
                settings.max_new_tokens,
                cut,
                self.context_length,
            )
        return rooms

    def _stop_check(self, stops: Sequence[str]) -> Callable[[list[int]], bool]:
        """Whether a reply's tokens so far hold one of ``stops`` (the reply only, never the prompt)."""

        def holds_stop(tokens: list[int]) -> bool:
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            return any(stop in text for stop in stops)

        return holds_stop

    def _generate_padded(
        self,
        prompts: list[list[int]],
        order: list[int],
        settings: InferenceSettings,
        batch_size: int,
        tracker: ProgressLog,
        seed: int,
    ) -> list[Generation]:
        """``model.generate`` on left-padded batches of ``batch_size`` prompts, in ``order``."""
        import torch

        if not settings.greedy:
            torch.manual_seed(seed)
        replies: list[Generation | None] = [None] * len(prompts)
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            batch = self._generate_batch([prompts[index] for index in indices], settings)
            for index, reply in zip(indices, batch, strict=True):
                replies[index] = reply
            tracker.update(len(indices), sum(reply.new_tokens for reply in batch))
        return [reply for reply in replies if reply is not None]

    def _generate_batch(self, prompts: list[list[int]], settings: InferenceSettings) -> list[Generation]:
        padded = self.tokenizer.pad(
            {"input_ids": prompts}, padding=True, padding_side="left", return_tensors="pt"
        ).to(self.model.device)
        width = padded["input_ids"].shape[1]
        [max_new_tokens] = self._rooms([width], settings)  # every row is as wide as the longest
        config = settings.generation_config(max_new_tokens, self.pad_token_id, self.eos_token_ids)
        stopping = _stop_on_text(self._stop_check(settings.stop), width) if settings.stop else None
        output = self.model.generate(**padded, generation_config=config, stopping_criteria=stopping)
        return [self._decode(row[width:], settings) for row in output]

    def _decode(self, new_ids: torch.Tensor, settings: InferenceSettings) -> Generation:
        ids = new_ids.tolist()
        # Rows that ended early are filled with padding (= EOS for SmolLM2): keep what precedes the first EOS.
        end = next((position for position, token in enumerate(ids) if token in self.eos_token_ids), None)
        kept = ids if end is None else ids[:end]
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        cut = min((found for stop in settings.stop if (found := text.find(stop)) >= 0), default=None)
        if cut is not None:
            text = text[:cut]
        return Generation(
            text=text, new_tokens=len(kept) + (end is not None), finished=end is not None or cut is not None
        )


def _stop_on_text(holds_stop: Callable[[list[int]], bool], prompt_width: int) -> Any:
    """A stopping criterion that ends a row once ``holds_stop`` says its reply holds a stop string.

    transformers' own ``stop_strings`` also match text that begins in the prompt: a chat prompt ends in
    "\n", so a "\n\n" stop would end every reply at its first newline. This one looks at the reply only.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopOnText(StoppingCriteria):
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
            done = [holds_stop(row) for row in input_ids[:, prompt_width:].tolist()]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopOnText()])


def _as_list(value: int | list[int] | None) -> list[int]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
