"""An OpenAI-compatible chat-completions server on 127.0.0.1, scripted by tests and benchmarks.

It speaks the real wire format (JSON and server-sent-event streaming), records every request body, and can
misbehave on demand: HTTP 500, 429 with Retry-After, a reply slower than the client's timeout, malformed JSON.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Reply:
    """One scripted behaviour: `content` (str or a function of the request body) or an error `kind`."""
    content: str | Callable[[dict], str] = ""
    kind: str = "ok"        # ok | error500 | ratelimit | slow | malformed
    delay: float = 0.0      # seconds to wait before answering (kind "slow")
    pace: float = 0.0       # seconds between streamed words (a model writing as it thinks)


@dataclass
class OpenAIServer:
    default: Reply = field(default_factory=lambda: Reply("The answer is in the sources [1]."))
    script: deque = field(default_factory=deque)
    requests: list = field(default_factory=list)

    def start(self) -> "OpenAIServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._json(404, {"error": {"message": f"no route {self.path}"}})
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                reply = server.script.popleft() if server.script else server.default
                if reply.kind == "error500":
                    return self._json(500, {"error": {"message": "internal error", "type": "server_error"}})
                if reply.kind == "ratelimit":
                    return self._json(429, {"error": {"message": "slow down", "type": "rate_limit"}},
                                      {"Retry-After": "0"})
                if reply.kind == "slow":
                    time.sleep(reply.delay)
                if reply.kind == "malformed":
                    return self._raw(200, b'{"id": "x", "choices": [ {"message": ', "application/json")
                content = reply.content(body) if callable(reply.content) else reply.content
                if body.get("stream"):
                    return self._stream(content, reply.pace)
                self._json(200, {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                                 "model": body.get("model", "test-model"),
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": content}}],
                                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

            def _stream(self, content: str, pace: float = 0.0):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                words = content.split(" ")
                for i, w in enumerate(words):
                    piece = w if i == len(words) - 1 else w + " "
                    event = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0,
                             "model": "test-model",
                             "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece},
                                          "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(pace)
                end = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": "test-model",
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()
                self.close_connection = True

            def _json(self, status: int, obj: dict, headers: dict | None = None):
                self._raw(status, json.dumps(obj).encode(), "application/json", headers)

            def _raw(self, status: int, data: bytes, ctype: str, headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- for assertions ----------------------------------------------------------------------
    def answer_requests(self) -> list[dict]:
        """Requests that carried sources (answers), as opposed to condense calls."""
        return [r["body"] for r in self.requests if "Sources:" in _user_text(r["body"])]

    def condense_requests(self) -> list[dict]:
        return [r["body"] for r in self.requests if "Standalone question" in _user_text(r["body"])]


def _user_text(body: dict) -> str:
    return "\n".join(m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user")
