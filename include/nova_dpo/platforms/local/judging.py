"""Judges for Nova's llm_judge protocol on the local platform: the bundled small model, or any
OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp server, a hosted API).

Both answer many prompts at once (:meth:`BatchJudge.replies`): the local model in batches, the endpoint with
concurrent requests. The replies are then fed to
:func:`~nova_dpo.evaluation.judge_protocol.judge_pairs`, so prompt building, verdict parsing and the
counting of failed calls as ``inference_error`` are the protocol's, whichever judge answered.
"""

from __future__ import annotations

import email.utils
import logging
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from nova_dpo.evaluation.jsonl import read_jsonl_objects
from nova_dpo.evaluation.judge_calibration import (
    calibration_pairs,
    calibration_summary,
    describe_calibration,
)
from nova_dpo.evaluation.judge_protocol import build_judge_prompts, judge_pairs
from nova_dpo.evaluation.judge_stats import PairOutcome, Verdict, judge_statistics
from nova_dpo.evaluation.results import LLM_JUDGE_TASK, build_results, results_filename, write_results
from nova_dpo.platforms.local.credentials import JUDGE_API_KEY_ENV
from nova_dpo.platforms.local.local_config import DEFAULT_BATCH_SIZE, LocalEvaluationOptions
from nova_dpo.platforms.local.model import DEFAULT_BASE_MODEL
from nova_dpo.platforms.local.text_generator import (
    InferenceSettings,
    ProgressFn,
    ProgressLog,
    TextGenerator,
)

log = logging.getLogger(__name__)

LOCAL_JUDGE = "local"
# How the local judge is recorded when it judges guided by references (see ReferenceGuidedJudge).
REFERENCE_JUDGE = "local (reference-guided)"
SMALL_JUDGE_WARNING = (
    "The default judge is the bundled 135M-parameter model: far too weak to judge reliably. Its verdicts "
    "are noisy and carry a strong position bias (the position-swapped second pass cancels only part of "
    "it); treat the winrate as a smoke test, and use an OpenAI-compatible endpoint with a strong model "
    "for real decisions."
)
# The local judge's reply is made to start inside the verdict brackets, so a few tokens give a parseable
# verdict; a 135M model asked for an explanation first rarely reaches one.
LOCAL_JUDGE_PREFILL = "[["
LOCAL_JUDGE_MAX_NEW_TOKENS = 4
ENDPOINT_JUDGE_MAX_TOKENS = 512
# Worth retrying: the server is busy, restarting, or timed out.
_RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_MAX_RETRY_AFTER_S = 30.0


class BatchJudge(Protocol):
    """A judge model that answers many judge prompts at once."""

    def replies(self, prompts: Sequence[str]) -> list[str | Exception]:
        """One reply per prompt, in order; a failed call gives its exception (an inference error)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What to record about the judge in a results file's ``config_general`` (never a secret)."""
        ...


class LocalJudge:
    """A local model as the judge, answering greedily in batches with a reply prefilled with ``[[``."""

    def __init__(
        self,
        generator: TextGenerator,
        settings: InferenceSettings | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: ProgressFn | None = None,
        decoder: str = "auto",
    ) -> None:
        self.generator = generator
        self.settings = settings or InferenceSettings(max_new_tokens=LOCAL_JUDGE_MAX_NEW_TOKENS)
        self.batch_size = batch_size
        self.progress = progress
        self.decoder = decoder

    def replies(self, prompts: Sequence[str]) -> list[str | Exception]:
        chats = [[{"role": "user", "content": prompt}] for prompt in prompts]
        generations = self.generator.generate(
            chats,
            self.settings,
            self.batch_size,
            prefill=LOCAL_JUDGE_PREFILL,
            progress=self.progress,
            what="judge",
            decoder=self.decoder,
        )
        return [LOCAL_JUDGE_PREFILL + generation.text for generation in generations]

    def describe(self) -> dict[str, Any]:
        return {
            "judge": LOCAL_JUDGE,
            "judge_model": self.generator.name,
            "judge_dtype": self.generator.dtype,
            "judge_max_new_tokens": self.settings.max_new_tokens,
        }


class ReferenceGuidedJudge:
    """A local model as a reference-guided judge: it sees the test set's reference answer and scores each response
    by the mean log-probability it gives it as the reply, the reference in its context; the higher wins.

    A small model cannot follow Nova's judge prompt (:class:`LocalJudge` picks by position), but it can tell
    how far an answer strays from one it has just read: a wrong tool name, a wrong argument, a call where a
    question was due all cost likelihood. Each response is scored on its own, so the order they are shown in
    cannot sway it: both passes of a pair agree by construction. Responses within ``tie_margin`` tie.
    """

    def __init__(
        self, generator: TextGenerator, progress: ProgressFn | None = None, tie_margin: float = 1e-3
    ) -> None:
        self.generator = generator
        self.progress = progress
        self.tie_margin = tie_margin

    def outcomes(self, pairs: Sequence[Mapping[str, str]]) -> list[PairOutcome]:
        tracker = ProgressLog(len(pairs), "judge", self.progress)
        outcomes = []
        for pair in pairs:
            answers = (pair["response_A"], pair["response_B"])
            score_a, score_b = self.generator.answer_log_probs(self.context(pair), answers)
            tracker.update(1, 0)
            shown = f"mean log-probability given the reference: A {score_a:.4f}, B {score_b:.4f}"
            swapped = f"mean log-probability given the reference: A {score_b:.4f}, B {score_a:.4f}"
            outcomes.append(
                PairOutcome(self._verdict(score_a, score_b), self._verdict(score_b, score_a), shown, swapped)
            )
        return outcomes

    @staticmethod
    def context(pair: Mapping[str, str]) -> list[dict[str, str]]:
        """The chat each response is scored as the reply to: the prompt's system prompt with the reference."""
        system = pair.get("system") or ""
        guide = f"A correct reply to the user's next message is:\n{pair['reference']}"
        return [
            {"role": "system", "content": f"{system}\n\n{guide}" if system else guide},
            {"role": "user", "content": pair["prompt"]},
        ]

    def _verdict(self, first: float, second: float) -> Verdict:
        if abs(first - second) <= self.tie_margin:
            return "tie"
        return "A" if first > second else "B"

    def describe(self) -> dict[str, Any]:
        return {
            "judge": REFERENCE_JUDGE,
            "judge_model": self.generator.name,
            "judge_dtype": self.generator.dtype,
        }


class JudgeRequestError(RuntimeError):
    """A request to the judge endpoint failed for good (retries spent, or an error not worth retrying)."""


def chat_completions_url(base_url: str) -> str:
    """The chat-completions URL of an OpenAI-compatible server.

    ``http://host:8000/v1`` gets ``/chat/completions`` appended; a bare ``http://host:8000`` gets
    ``/v1/chat/completions`` (where vLLM, Ollama and llama.cpp serve it); a full ``.../chat/completions``
    URL is kept.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"The judge endpoint must be an http(s) URL such as http://127.0.0.1:8000/v1, got {base_url!r}."
        )
    url = base_url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if parts.path in ("", "/"):
        url += "/v1"
    return url + "/chat/completions"


class EndpointJudge:
    """An OpenAI-compatible chat-completions endpoint as the judge, with timeouts, retries and concurrency.

    :param base_url: the server's base URL, e.g. ``http://127.0.0.1:8000/v1``
        (see :func:`chat_completions_url`).
    :param model: the model name to send; None asks the server (``GET /models``) and takes the only one.
    :param api_key: sent as a bearer token when given.
    :param settings: temperature and top_p are sent, and max_new_tokens as ``max_tokens``; top_k is not part
        of the OpenAI API (some servers reject unknown fields), so it is not sent.
    :param retry_backoff_s: the first wait before a retry; it doubles with each retry.
    :param progress: called with a progress report as replies come in.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        settings: InferenceSettings | None = None,
        timeout_s: float = 120.0,
        retries: int = 2,
        concurrency: int = 4,
        retry_backoff_s: float = 1.0,
        progress: ProgressFn | None = None,
    ) -> None:
        import httpx

        self.url = chat_completions_url(base_url)
        self.settings = settings or InferenceSettings(max_new_tokens=ENDPOINT_JUDGE_MAX_TOKENS)
        self.retries = retries
        self.concurrency = concurrency
        self.retry_backoff_s = retry_backoff_s
        self.progress = progress
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
        )
        try:
            self.model = model or self._only_model()
        except Exception:
            self.client.close()
            raise

    def _only_model(self) -> str:
        models_url = self.url.removesuffix("/chat/completions") + "/models"
        response = self._send("GET", models_url)
        names = [entry.get("id") for entry in response.get("data", []) if isinstance(entry, Mapping)]
        if len(names) != 1 or not isinstance(names[0], str):
            raise ValueError(
                f"{models_url} lists models {names}; name the judge model (--judge-model / judge_model)."
            )
        log.info("Judge endpoint serves one model, %s; judging with it", names[0])
        return names[0]

    def __call__(self, prompt: str) -> str:
        payload = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": self.settings.max_new_tokens,
            "temperature": self.settings.temperature,
            "top_p": self.settings.top_p,
        }
        body = self._send("POST", self.url, json=payload)
        try:
            content = body["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as err:
            raise JudgeRequestError(
                f"{self.url} answered without choices[0].message.content: {body!r:.200}"
            ) from err
        return content or ""

    def _send(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        import httpx

        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as err:  # connection refused, timeouts, ...
                if last:
                    raise JudgeRequestError(f"{method} {url} failed: {type(err).__name__}: {err}") from err
                wait = self.retry_backoff_s * 2**attempt
            else:
                if response.is_success:
                    return response.json()
                if last or response.status_code not in _RETRY_STATUSES:
                    raise JudgeRequestError(
                        f"{method} {url} answered {response.status_code}: {response.text[:300]}"
                    )
                wait = _retry_after(response)
                if wait is None:
                    wait = self.retry_backoff_s * 2**attempt
            log.info(
                "Judge request failed (attempt %d of %d); retrying in %.1f s",
                attempt + 1,
                self.retries + 1,
                wait,
            )
            time.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def replies(self, prompts: Sequence[str]) -> list[str | Exception]:
        def ask(prompt: str) -> str | Exception:
            try:
                return self(prompt)
            except Exception as err:  # counted by the protocol as an inference error
                return err

        tracker = ProgressLog(len(prompts), "judge", self.progress)
        answers = []
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for answer in pool.map(ask, prompts):
                answers.append(answer)
                tracker.update(1, 0)
        return answers

    def describe(self) -> dict[str, Any]:
        return {
            "judge": url_without_credentials(self.url),
            "judge_model": self.model,
            "judge_max_new_tokens": self.settings.max_new_tokens,
        }

    def close(self) -> None:
        self.client.close()


def url_without_credentials(url: str) -> str:
    """``url`` without a user name or password, fit for a results file or a log."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


def _retry_after(response: Any) -> float | None:
    """The wait a 429/503 response asks for (seconds or an HTTP date), capped; None when it asks none."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        if when is None:
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)


def make_judge(
    options: LocalEvaluationOptions,
    recipe_inference: Mapping[str, Any] | None = None,
    progress: ProgressFn | None = None,
    api_key: str | None = None,
    guided: bool = False,
) -> LocalJudge | ReferenceGuidedJudge | EndpointJudge:
    """The judge ``options`` name: ``judge="local"`` or an endpoint URL, decoding as the recipe says
    (Nova's llm_judge recipes: temperature 0, top_p 1.0).

    :param api_key: the endpoint's API key, sent as a bearer token. Never an option: a job reads it from
        :data:`~nova_dpo.platforms.local.credentials.JUDGE_API_KEY_ENV`.
    :param guided: every pair carries its reference answer: the local model judges guided by it
        (:class:`ReferenceGuidedJudge`) instead of reading Nova's judge prompt.
    """
    local = options.judge == LOCAL_JUDGE
    default_tokens = LOCAL_JUDGE_MAX_NEW_TOKENS if local else ENDPOINT_JUDGE_MAX_TOKENS
    settings = InferenceSettings.from_recipe(recipe_inference, options.judge_max_new_tokens or default_tokens)
    if local:
        generator = TextGenerator.load(
            options.judge_model or DEFAULT_BASE_MODEL, options.dtype, options.device, options.torch_threads
        )
        if guided:
            return ReferenceGuidedJudge(generator, progress)
        log.warning("%s", SMALL_JUDGE_WARNING)
        return LocalJudge(generator, settings, options.batch_size, progress, options.decoder)
    return EndpointJudge(
        options.judge,
        options.judge_model,
        api_key,
        settings,
        options.judge_timeout_s,
        options.judge_retries,
        options.judge_concurrency,
        progress=progress,
    )


def judge_with(
    judge: BatchJudge | ReferenceGuidedJudge, pairs: Sequence[Mapping[str, str]]
) -> list[PairOutcome]:
    """Judge every pair forward and position-swapped (see the module docstring)."""
    if isinstance(judge, ReferenceGuidedJudge):
        return judge.outcomes(pairs)
    prompts = list(dict.fromkeys(prompt for pair in pairs for prompt in build_judge_prompts(pair)))
    answers = dict(zip(prompts, judge.replies(prompts), strict=True))

    def lookup(prompt: str) -> str:
        answer = answers[prompt]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return judge_pairs(pairs, lookup)


def read_judge_pairs(path: str | os.PathLike[str], max_rows: int | None = None) -> list[dict[str, Any]]:
    """The rows of an ``llm_judge.jsonl``: ``prompt``, ``response_A`` (baseline), ``response_B`` (new).

    A local run's rows also carry the test set's ``reference`` answer, ``system`` prompt and expected behaviour
    (``category``): the judge is calibrated on them and the local model judges guided by them.
    """
    pairs = read_jsonl_objects(path, "llm_judge")[:max_rows]
    for number, pair in enumerate(pairs, start=1):
        try:
            build_judge_prompts(pair)
        except ValueError as err:
            raise ValueError(f"{path}: row {number}: {err}") from err
    if not pairs:
        raise ValueError(f"{path} holds no llm_judge pairs.")
    return pairs


def judge_results(
    judge: BatchJudge,
    pairs: Sequence[Mapping[str, str]],
    config: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Judge ``pairs`` and return a results document in Nova's shape, with one row per pair."""
    started = time.monotonic()
    calibration = calibrate(judge, pairs)
    outcomes = judge_with(judge, pairs)
    metrics = judge_statistics(outcomes, seed=seed)
    general = {
        "task": "llm_judge",
        "platform": "local",
        "num_examples": len(pairs),
        **judge.describe(),
        "judging_seconds": round(time.monotonic() - started, 1),
        "bootstrap_seed": seed,
        **dict(config or {}),
    }
    if calibration is not None:
        general["judge_calibration"] = calibration
    if isinstance(judge, LocalJudge):
        general["judge_warning"] = SMALL_JUDGE_WARNING
    return build_results(LLM_JUDGE_TASK, metrics, general, [outcome.to_row() for outcome in outcomes])


def has_reference(pair: Mapping[str, Any]) -> bool:
    """Whether the pair carries its reference answer (a local run's ``llm_judge.jsonl`` lines do)."""
    return isinstance(pair.get("reference"), str) and bool(pair["reference"])


def carry_references(pairs: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every pair carries its reference answer."""
    return all(has_reference(pair) for pair in pairs)


def calibrate(
    judge: BatchJudge | ReferenceGuidedJudge, pairs: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The judge's calibration (:mod:`~nova_dpo.evaluation.judge_calibration`) on pairs built from the
    references the pairs carry; None when they carry none."""
    known = calibration_pairs([pair for pair in pairs if has_reference(pair)])
    if not known:
        return None
    summary = calibration_summary(known, judge_with(judge, [pair.to_judge_pair() for pair in known]))
    log.log(logging.INFO if summary["calibrated"] else logging.WARNING, "%s", describe_calibration(summary))
    return summary


def run_llm_judge(
    data_path: Path,
    results_dir: Path,
    recipe: Mapping[str, Any],
    options: LocalEvaluationOptions,
    progress: ProgressFn | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """The llm_judge evaluation job: judge ``llm_judge.jsonl`` and write ``results_<timestamp>.json``."""
    pairs = read_judge_pairs(data_path, options.max_rows)
    api_key = os.environ.get(JUDGE_API_KEY_ENV) or None
    judge = make_judge(options, recipe.get("inference"), progress, api_key, carry_references(pairs))
    try:
        document = judge_results(judge, pairs, {"model_name": model or ""}, seed=options.seed)
    finally:
        if isinstance(judge, EndpointJudge):
            judge.close()
    results_path = write_results(results_dir / results_filename(), document)
    metrics = document["results"][LLM_JUDGE_TASK]
    log.info(
        "llm_judge: B (candidate) winrate %.3f [%.3f, %.3f] over %d pairs; results in %s",
        metrics["winrate"],
        metrics["lower_rate"],
        metrics["upper_rate"],
        len(pairs),
        results_path,
    )
    return {
        "task": "llm_judge",
        "results_path": str(results_path),
        "num_examples": len(pairs),
        "metrics": metrics,
    }
