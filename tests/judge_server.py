"""An OpenAI-compatible chat-completions server on 127.0.0.1: the endpoint judge of the tests."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JudgeServer(ThreadingHTTPServer):
    """Answers chat completions in OpenAI's shape: "[[B]]" when the candidate is shown second (forward),
    "[[A]]" when it is shown first (backward), so the candidate wins both orders; 500 for prompts with
    BROKEN in them; 503 with ``Retry-After: 0`` the first time it sees a prompt with BUSY in it."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _JudgeHandler)
        self.requests: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _JudgeHandler(BaseHTTPRequestHandler):
    server: JudgeServer

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
        pass

    def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._reply(200, {"object": "list", "data": [{"id": "judge-1", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        with self.server.lock:
            self.server.requests.append({**body, "authorization": self.headers.get("Authorization")})
            first_time = prompt not in self.server.seen
            self.server.seen.add(prompt)
        if "BUSY" in prompt and first_time:
            self._reply(503, {"error": {"message": "busy"}}, {"Retry-After": "0"})
            return
        if self.path != "/v1/chat/completions" or "BROKEN" in prompt:
            self._reply(500, {"error": {"message": "judge crashed"}})
            return
        forward = prompt.index("baseline answer") < prompt.index("candidate answer")
        content = "B is more helpful. [[B]]" if forward else "A is more helpful. [[A]]"
        self._reply(
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )


@contextlib.contextmanager
def serving() -> Iterator[JudgeServer]:
    """A :class:`JudgeServer` answering in a thread until the block ends."""
    server = JudgeServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
