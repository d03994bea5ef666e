"""A REST service stand-in on 127.0.0.1 that answers what a test tells it to, for the answers
no emulator gives (a busy service, a job that never ends)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class StandIn:
    """Answers every call with the next of ``answers`` (status, JSON body), the last one again
    once they run out; ``seen`` records each call as ``METHOD path Authorization``."""

    def __init__(self, answers: list[tuple[int, object]]) -> None:
        self.answers, self.seen = answers, list[str]()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                auth = self.headers.get("Authorization", "")
                stand_in.seen.append(f"{self.command} {self.path} {auth}".rstrip())
                status, body = stand_in.answers[0]
                if len(stand_in.answers) > 1:
                    stand_in.answers.pop(0)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StandIn:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
