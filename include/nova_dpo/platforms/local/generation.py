"""Batched generation with a local model, and the local platform's evaluation job (Nova's gen_qa / llm_judge).

:class:`TextGenerator` renders chats with the model's chat template and generates in batches: prompts are
sorted by length so a batch holds similar lengths (less padding), padded on the left (a decoder-only model
continues from the last position, so padding must come first), and results are returned in input order.

:func:`run_evaluation_job` is what the local job runner calls for an evaluation job. Its output folder gets
the layout of an extracted Nova evaluation ``output.tar.gz``::

    <run.name>/eval_results/inference_output.jsonl   (gen_qa: prompt, inference [one string], gold, metadata)
    <run.name>/eval_results/results_<timestamp>.json (Nova's results shape, plus per-example scores)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nova_dpo.evaluation.gen_qa_metrics import compute_gen_qa_metrics, read_inference_output
from nova_dpo.evaluation.results import GEN_QA_TASK, build_results, results_filename, write_results
from nova_dpo.platforms.base import EVALUATION_TASKS, INFERENCE_OUTPUT_FILE
from nova_dpo.platforms.local.model import DTYPES, load_model_and_tokenizer

if TYPE_CHECKING:
    import torch
    from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

ProgressFn = Callable[[dict[str, Any]], None]
Message = Mapping[str, str]

# Used when neither the recipe (llm_judge recipes have none) nor the caller sets max_new_tokens.
DEFAULT_MAX_NEW_TOKENS = 512
# Rows decoded together. On a 2-core CPU with SmolLM2-135M, 16 rows decode 1.7x the tokens/s of 8 and 32 add
# little more (benchmarks/bench_local.py); the decoding step reads every weight once whatever the row count.
DEFAULT_BATCH_SIZE = 16
DTYPE_CHOICES = ("auto", *DTYPES)
# How replies are decoded: continuous batching where the model allows it (auto), or transformers'
# ``model.generate`` on left-padded batches (padded: slower, for any model).
DECODER_CHOICES = ("auto", "continuous", "padded")
DEVICE_CHOICES = ("auto", "cpu", "cuda")
RECIPE_INFERENCE_KEYS = ("max_new_tokens", "temperature", "top_k", "top_p", "top_logprobs")
SPEC_KEYS = ("task", "recipe", "model", "data_path", "local")
EVAL_RESULTS_DIR = "eval_results"

_LOG_INTERVAL_S = 10.0
# Turn markers of multi-turn gen_qa queries, as the AWS sample writes them ("##User: ...\n##Assistant: ...").
_TURN_MARKER = re.compile(r"(?:^|\n)##(User|Assistant): ?")
_ROLES = {"User": "user", "Assistant": "assistant"}


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


@dataclass
class LocalEvaluationOptions:
    """How the local platform runs an evaluation job on this machine.

    The judge is Nova's own on SageMaker and a choice here. ``dtype`` changes greedy replies a little
    (bfloat16 rounds differently), so compare models evaluated with the same options.
    """

    batch_size: int = field(
        default=DEFAULT_BATCH_SIZE,
        metadata={"help": "Replies decoded together (a row that ends takes the next prompt at once)."},
    )
    dtype: str = field(
        default="auto",
        metadata={
            "help": "float32, bfloat16, or auto: bfloat16 where the hardware computes it natively (2-3x "
            "faster on CPUs with AVX512-BF16 or AMX), else float32."
        },
    )
    device: str = field(default="auto", metadata={"help": "cpu, cuda, or auto (cuda when available)."})
    decoder: str = field(
        default="auto",
        metadata={
            "help": "continuous (continuous batching, prefix-shared prefill), padded (transformers' "
            "generate on left-padded batches), or auto: continuous where every layer of the model attends "
            "to the full context, else padded."
        },
    )
    torch_threads: int = field(
        default=0, metadata={"help": "CPU threads torch may use; 0 keeps torch's default (all cores)."}
    )
    max_new_tokens: int | None = field(
        default=None, metadata={"help": "A cap on the recipe's inference.max_new_tokens; None keeps it."}
    )
    max_rows: int | None = field(
        default=None, metadata={"help": "Evaluate only the first N rows (quick runs); None uses all."}
    )
    seed: int = field(default=0, metadata={"help": "Seed for sampling (temperature > 0) and the bootstrap."})
    judge: str = field(
        default="local",
        metadata={
            "help": "llm_judge: 'local' (the bundled small model) or an OpenAI-compatible base URL (its API "
            "key, if any, reaches the job in the environment, never as an option)."
        },
    )
    judge_model: str | None = field(
        default=None,
        metadata={
            "help": "llm_judge: the local judge model (name or folder; default the bundled model), or the "
            "endpoint's model name (default: the only model the endpoint lists)."
        },
    )
    judge_max_new_tokens: int | None = field(
        default=None, metadata={"help": "llm_judge: reply length of the judge; None picks per judge kind."}
    )
    judge_timeout_s: float = field(
        default=120.0, metadata={"help": "llm_judge: seconds per endpoint request."}
    )
    judge_retries: int = field(
        default=2, metadata={"help": "llm_judge: retries of a failed endpoint request."}
    )
    judge_concurrency: int = field(default=4, metadata={"help": "llm_judge: endpoint requests in flight."})

    def __post_init__(self) -> None:
        for name in ("batch_size", "judge_concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        for name in ("max_new_tokens", "max_rows", "judge_max_new_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be positive or None, got {value}.")
        if self.dtype not in DTYPE_CHOICES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPE_CHOICES)}, got {self.dtype!r}.")
        if self.device not in DEVICE_CHOICES:
            raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {self.device!r}.")
        if self.decoder not in DECODER_CHOICES:
            raise ValueError(f"decoder must be one of {', '.join(DECODER_CHOICES)}, got {self.decoder!r}.")
        if self.torch_threads < 0:
            raise ValueError(
                f"torch_threads must be 0 (torch's default) or positive, got {self.torch_threads}."
            )
        if self.judge_timeout_s <= 0 or self.judge_retries < 0:
            raise ValueError("judge_timeout_s must be positive and judge_retries non-negative.")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> LocalEvaluationOptions:
        """Options from a plain dict (a job spec's ``local``, CLI or DAG params); unknown keys are errors."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown local evaluation option(s): {', '.join(unknown)}. "
                f"Known options: {', '.join(sorted(known))}."
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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


# ------------------------------------------------------------------------------------------------- prompts


def split_turns(query: str) -> list[dict[str, str]]:
    """The chat turns of a gen_qa ``query``: one user turn, or the turns of a ``##User:``/``##Assistant:``
    conversation (the AWS sample's markup for multi-turn prompts)."""
    if not query.startswith("##User:"):
        return [{"role": "user", "content": query}]
    # [role, text, role, text, ...] once the empty text before the first marker is dropped.
    parts = _TURN_MARKER.split(query)[1:]
    return [
        {"role": _ROLES[role], "content": text} for role, text in zip(parts[::2], parts[1::2], strict=True)
    ]


def gen_qa_messages(row: Mapping[str, Any]) -> list[dict[str, str]]:
    """The chat of one gen_qa row: its ``system`` (when not empty), then the turns of its ``query``."""
    system = row.get("system") or ""
    head = [{"role": "system", "content": system}] if system else []
    return head + split_turns(row["query"])


# ---------------------------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class Generation:
    """One reply: its text, its length in tokens, and whether it ended by itself (EOS or a stop string)
    rather than at ``max_new_tokens``."""

    text: str
    new_tokens: int
    finished: bool


class ProgressLog:
    """Logs rows done, throughput and ETA every few seconds, and reports each batch to ``progress``."""

    def __init__(self, total: int, what: str, progress: ProgressFn | None) -> None:
        self.total, self.what, self.progress = total, what, progress
        self.started = self.last_log = time.monotonic()
        self.rows = self.tokens = 0

    def update(self, rows: int, tokens: int) -> None:
        self.rows += rows
        self.tokens += tokens
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-9)
        eta = elapsed / self.rows * (self.total - self.rows)
        report = {
            "stage": self.what,
            "rows_done": self.rows,
            "rows_total": self.total,
            "fraction": round(self.rows / self.total, 4),
            "new_tokens": self.tokens,
            "tokens_per_second": round(self.tokens / elapsed, 1),
            "elapsed_seconds": round(elapsed, 1),
            "eta_seconds": round(eta, 1),
        }
        if self.progress:
            self.progress(report)
        # A single reply (a chat turn) is not worth a progress line.
        if self.total > 1 and (now - self.last_log >= _LOG_INTERVAL_S or self.rows == self.total):
            self.last_log = now
            speed = f", {report['tokens_per_second']} new tokens/s" if self.tokens else ""
            log.info(
                "%s: %d/%d rows%s, elapsed %.0f s, ETA %.0f s",
                self.what,
                self.rows,
                self.total,
                speed,
                elapsed,
                eta,
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
                on_row_done=lambda _, row: tracker.update(1, len(row.tokens)),
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


# -------------------------------------------------------------------------------------------- gen_qa files


def read_jsonl_objects(path: str | os.PathLike[str], what: str) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file; an error names the file and line."""
    rows = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not a JSON line: {err}") from err
            if not isinstance(row, dict):
                raise ValueError(
                    f"{path}:{number}: a {what} row must be a JSON object, got {type(row).__name__}"
                )
            rows.append(row)
    return rows


def read_gen_qa(path: str | os.PathLike[str], max_rows: int | None = None) -> list[dict[str, Any]]:
    """The rows of a ``gen_qa.jsonl``: ``query``, ``response``, and optionally ``system`` and ``metadata``.

    ``images`` are dropped with a warning: the local models read text only.
    """
    rows = read_jsonl_objects(path, "gen_qa")[:max_rows]
    with_images = 0
    for number, row in enumerate(rows, start=1):
        for name in ("query", "response"):
            if not isinstance(row.get(name), str):
                raise ValueError(f"{path}: row {number} needs a string {name!r} (Nova's gen_qa format).")
        if not isinstance(row.get("system") or "", str):
            raise ValueError(f"{path}: row {number}: 'system' must be a string.")
        with_images += bool(row.get("images"))
    if with_images:
        log.warning(
            "%d gen_qa row(s) carry images; the local model reads text only, so they are ignored.",
            with_images,
        )
    if not rows:
        raise ValueError(f"{path} holds no gen_qa rows.")
    return rows


def inference_record(row: Mapping[str, Any], reply: str) -> dict[str, Any]:
    """A line of ``inference_output.jsonl`` in Nova's fields (``inference`` is a list, as Nova writes it)."""
    return {
        "prompt": row["query"],
        "inference": [reply],
        "gold": row["response"],
        "metadata": row.get("metadata"),
    }


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> Path:
    """Write records as JSON lines, through a temporary file, so a reader never sees half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.tmp")
    with scratch.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(scratch, target)
    return target


def generate_inference_output(
    generator: TextGenerator,
    rows: Sequence[Mapping[str, Any]],
    settings: InferenceSettings,
    out_path: str | os.PathLike[str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressFn | None = None,
    seed: int = 0,
    decoder: str = "auto",
) -> list[dict[str, Any]]:
    """Generate a reply for every gen_qa row and write ``inference_output.jsonl``; returns its records."""
    replies = generator.generate(
        [gen_qa_messages(row) for row in rows],
        settings,
        batch_size,
        progress=progress,
        what="gen_qa",
        seed=seed,
        decoder=decoder,
    )
    unfinished = sum(not reply.finished for reply in replies)
    if unfinished:
        log.info(
            "%d of %d replies stopped at max_new_tokens=%d", unfinished, len(replies), settings.max_new_tokens
        )
    records = [inference_record(row, reply.text) for row, reply in zip(rows, replies, strict=True)]
    write_jsonl(out_path, records)
    return records


# ----------------------------------------------------------------------------------------------- the job


def eval_results_dir(output_dir: str | os.PathLike[str], recipe: Mapping[str, Any]) -> Path:
    """``<output_dir>/<run.name>/eval_results``, where Nova's evaluation output puts its files."""
    run = recipe.get("run") if isinstance(recipe.get("run"), Mapping) else {}
    name = run.get("name")
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValueError(f"The evaluation recipe needs run.name (a plain folder name), got {name!r}.")
    return Path(output_dir) / name / EVAL_RESULTS_DIR


def _check_spec(spec: Mapping[str, Any]) -> str:
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(
            f"Unknown key(s) {unknown} in an evaluation job's spec; it takes {', '.join(SPEC_KEYS)}."
        )
    task = spec.get("task")
    if task not in EVALUATION_TASKS:
        raise ValueError(f"Evaluation job task must be one of {', '.join(EVALUATION_TASKS)}, got {task!r}.")
    recipe_task = (spec.get("recipe") or {}).get("evaluation", {}).get("task")
    if recipe_task not in (None, task):
        raise ValueError(f"The job's task is {task!r} but its recipe's evaluation.task is {recipe_task!r}.")
    if not spec.get("data_path"):
        raise ValueError(f"An evaluation job needs data_path (the {task}.jsonl file).")
    if task == "gen_qa" and not spec.get("model"):
        raise ValueError("A gen_qa job needs model (a model name or folder).")
    return task


def _data_path(value: str) -> Path:
    # The runner may hand over a file:// URI (the local storage's URIs) as well as a plain path.
    return Path(value.removeprefix("file://")) if isinstance(value, str) else Path(value)


def run_evaluation_job(spec: dict[str, Any], output_dir: Path, progress: ProgressFn) -> dict[str, Any]:
    """Run a local evaluation job; the local job runner's entry point.

    :param spec: ``{"task": "gen_qa" | "llm_judge", "recipe": <evaluation recipe>, "model": <name or folder>,
        "data_path": <gen_qa.jsonl or llm_judge.jsonl>, "local": <LocalEvaluationOptions as a dict>}``.
        An llm_judge job judges precomputed pairs, so its ``model`` is only recorded.
    :return: ``task``, ``results_path``, ``inference_output_path`` (gen_qa), ``num_examples`` and the metrics.
    """
    task = _check_spec(spec)
    recipe = spec.get("recipe") or {}
    options = LocalEvaluationOptions.from_dict(spec.get("local"))
    results_dir = eval_results_dir(output_dir, recipe)
    data_path = _data_path(spec["data_path"])
    if task == "llm_judge":
        # Imported here: judging builds on this module.
        from nova_dpo.platforms.local.judging import run_llm_judge

        return run_llm_judge(data_path, results_dir, recipe, options, progress, model=spec.get("model"))
    return run_gen_qa(spec["model"], data_path, results_dir, recipe, options, progress)


def run_gen_qa(
    model: str,
    data_path: Path,
    results_dir: Path,
    recipe: Mapping[str, Any],
    options: LocalEvaluationOptions,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Generate for every row of ``gen_qa.jsonl``, score with Nova's gen_qa metrics, write both files."""
    settings = InferenceSettings.from_recipe(recipe.get("inference"), options.max_new_tokens)
    rows = read_gen_qa(data_path, options.max_rows)
    generator = TextGenerator.load(model, options.dtype, options.device, options.torch_threads)
    started = time.monotonic()
    inference_path = results_dir / INFERENCE_OUTPUT_FILE
    generate_inference_output(
        generator, rows, settings, inference_path, options.batch_size, progress, options.seed, options.decoder
    )
    seconds = time.monotonic() - started
    scores = compute_gen_qa_metrics(read_inference_output(inference_path), seed=options.seed)
    config = {
        "model_name": str(model),
        "task": "gen_qa",
        "platform": "local",
        "num_examples": len(rows),
        "inference": dataclasses.asdict(settings),
        "dtype": generator.dtype,
        "device": generator.device,
        "batch_size": options.batch_size,
        "decoder": options.decoder,
        "generation_seconds": round(seconds, 1),
        "bootstrap_seed": options.seed,
    }
    results_path = write_results(
        results_dir / results_filename(),
        build_results(GEN_QA_TASK, scores.metrics, config, scores.per_example),
    )
    log.info("gen_qa results written to %s", results_path)
    return {
        "task": "gen_qa",
        "results_path": str(results_path),
        "inference_output_path": str(inference_path),
        "num_examples": len(rows),
        "metrics": scores.metrics,
    }
