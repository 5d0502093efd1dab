"""Chat with a local model: what the local model store's ``invoke`` and ``nova-dpo chat`` run.

The store calls a runtime as ``runtime(model_dir, messages, **inference)``; a :class:`LocalRuntime` is such
a callable (``LocalModelStore(root, runtime=LocalRuntime())``).

:class:`LocalRuntime` keeps one model loaded at a time: a smoke test or a chat session talks to the same
model many times, while loading a second one would double the memory for no gain.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from nova_dpo.platforms.local.text_generator import InferenceSettings, TextGenerator

# Bedrock Converse's ``inferenceConfig`` names (and the model store's ``stop_sequences``), accepted next to
# the recipe's names so a Converse request can be passed through as is.
_CONVERSE_NAMES = {
    "maxTokens": "max_new_tokens",
    "topP": "top_p",
    "stopSequences": "stop",
    "stop_sequences": "stop",
}
_INFERENCE_NAMES = ("max_new_tokens", "temperature", "top_k", "top_p", "stop")
_ROLES = ("system", "user", "assistant")


def inference_settings(**inference: Any) -> InferenceSettings:
    """Settings from recipe names (``max_new_tokens``, ``temperature``, ``top_k``, ``top_p``, ``stop``) or
    Converse names (``maxTokens``, ``topP``, ``stopSequences`` / ``stop_sequences``); None values are left at
    their defaults."""
    values: dict[str, Any] = {}
    for name, value in inference.items():
        key = _CONVERSE_NAMES.get(name, name)
        if key not in _INFERENCE_NAMES:
            raise ValueError(
                f"Unknown inference setting {name!r}; use {', '.join(_INFERENCE_NAMES)} "
                f"(or Converse's {', '.join(_CONVERSE_NAMES)})."
            )
        if value is not None:
            values[key] = tuple(value) if key == "stop" else value
    return InferenceSettings(**values)


def chat_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Messages as the chat template takes them (``{"role", "content": str}``).

    ``content`` may be a string or Converse's list of blocks (``[{"text": ...}, ...]``); text blocks
    are joined, and other blocks (images, tool results) refused, since the local models read text only.
    """
    converted = []
    for number, message in enumerate(messages, start=1):
        role, content = message.get("role"), message.get("content")
        if role not in _ROLES:
            raise ValueError(f"Message {number} has role {role!r}; use one of {', '.join(_ROLES)}.")
        if isinstance(content, list):
            if not all(isinstance(block, Mapping) and set(block) == {"text"} for block in content):
                raise ValueError(
                    f"Message {number}: the local models read text blocks only ({{'text': ...}})."
                )
            content = "".join(str(block["text"]) for block in content)
        if not isinstance(content, str):
            raise ValueError(f"Message {number} needs content as a string or a list of text blocks.")
        converted.append({"role": role, "content": content})
    if not converted or converted[-1]["role"] != "user":
        raise ValueError("A chat must end with a user message.")
    return converted


class LocalRuntime:
    """Chats with local models, keeping the last one loaded.

    :param dtype: ``auto``, ``float32`` or ``bfloat16``
        (see :func:`~nova_dpo.platforms.local.text_generator.resolve_dtype`).
    :param device: ``auto``, ``cpu`` or ``cuda``.
    :param torch_threads: CPU threads for torch; 0 keeps torch's default.
    """

    def __init__(self, dtype: str = "auto", device: str = "auto", torch_threads: int = 0) -> None:
        self.dtype = dtype
        self.device = device
        self.torch_threads = torch_threads
        self._lock = threading.Lock()
        self._loaded: tuple[str, TextGenerator] | None = None

    def generator(self, model_dir: str | os.PathLike[str]) -> TextGenerator:
        """The model for ``model_dir`` (a folder or a built-in name), loaded in place of the last one."""
        key = os.fspath(model_dir)
        with self._lock:
            if self._loaded is None or self._loaded[0] != key:
                # Drop the old model before loading the new one, so both never sit in memory together.
                self._loaded = None
                self._loaded = (key, TextGenerator.load(key, self.dtype, self.device, self.torch_threads))
            return self._loaded[1]

    def chat(
        self, model_dir: str | os.PathLike[str], messages: Sequence[Mapping[str, Any]], **inference: Any
    ) -> str:
        """The model's reply to a chat (greedy unless ``temperature`` > 0).

        :param inference: see :func:`inference_settings`.
        """
        settings = inference_settings(**inference)
        chat = chat_messages(messages)
        generator = self.generator(model_dir)
        with self._lock:  # one generation at a time: torch already uses every core for one
            [reply] = generator.generate([chat], settings, batch_size=1, what="chat")
        return reply.text

    __call__ = chat

    def unload(self) -> None:
        """Free the loaded model."""
        with self._lock:
            self._loaded = None
