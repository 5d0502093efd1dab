"""The OpenAI-compatible endpoint a local llm_judge job may judge with, read from an Airflow connection.

Where a judge is and what it is sent are an administrator's decision, not a run's: the endpoint's URL, model
and API key live in a connection (``judge_conn_id``), which a user who may trigger runs can name but not read
or change. The key reaches the job in its environment (:data:`~nova_dpo.platforms.local.credentials.
JUDGE_API_KEY_ENV`), never in its spec, XCom, a log or a report.

The connection (type ``http``)::

    host      https://judge.example.com/v1   (or a bare host name, with ``schema`` http/https and ``port``)
    password  the API key (optional)
    extra     {"model": "judge-model-name"}  (optional: default, the only model the endpoint lists)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook


@dataclass(frozen=True)
class JudgeEndpoint:
    """An endpoint judge: ``url`` and ``model`` go into the job's options, ``api_key`` only into its
    environment (it is left out of ``repr``)."""

    url: str
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)


class JudgeEndpointHook(BaseHook):
    """
    Read an OpenAI-compatible judge endpoint from an Airflow connection.

    :param judge_conn_id: The connection holding the endpoint: ``host`` (its base URL), ``password`` (the API
        key, optional) and ``extra.model`` (optional).
    """

    conn_name_attr = "judge_conn_id"
    default_conn_name = "nova_dpo_judge"
    conn_type = "http"
    hook_name = "Nova DPO judge endpoint"

    def __init__(self, judge_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.judge_conn_id = judge_conn_id

    def get_conn(self) -> JudgeEndpoint:
        return endpoint_of(self.get_connection(self.judge_conn_id))


def endpoint_of(conn: Any) -> JudgeEndpoint:
    """The judge endpoint a connection describes.

    :raises ValueError: the connection has no host, a scheme other than http(s), or credentials in the URL
        (where a log or a job spec would show them: the key belongs in the password field).
    """
    conn_id = conn.conn_id
    host = (conn.host or "").strip()
    if not host:
        raise ValueError(
            f"Connection {conn_id!r} has no host: set it to the judge's base URL, e.g. https://judge.example.com/v1."
        )
    if "://" not in host:
        scheme = conn.schema if conn.schema in ("http", "https") else "https"
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"Connection {conn_id!r}: the judge's host must be an http(s) URL, got {parts.scheme!r}."
        )
    if parts.username or parts.password:
        raise ValueError(
            f"Connection {conn_id!r} has credentials in its host URL; put the API key in its password field."
        )
    if conn.port and parts.port is None:
        host = parts._replace(netloc=f"{parts.netloc}:{conn.port}").geturl()
    model = conn.extra_dejson.get("model") or None
    if model is not None and not isinstance(model, str):
        raise ValueError(f"Connection {conn_id!r}: extra.model must be a string, got {model!r}.")
    return JudgeEndpoint(url=host.rstrip("/"), model=model, api_key=conn.password or None)
