"""A WSGI application served over HTTP on 127.0.0.1 in a background thread (werkzeug)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

HOST = "127.0.0.1"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Deferred:
    """The application, set once the server knows its port (URLs inside the app contain it)."""

    def __init__(self) -> None:
        self.app: WsgiApp | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"starting"]
        return self.app(environ, start_response)


class HttpServer:
    def __init__(self, port: int = 0) -> None:
        self._target = _Deferred()
        self._server: BaseWSGIServer = make_server(HOST, port, self._target, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="cradle-gateway", daemon=True)
        self._closed = False

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self._server.server_port}"

    def serve(self, app: WsgiApp) -> HttpServer:
        self._target.app = app
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call more than once."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(10)
        if not self._closed:
            self._server.server_close()
            self._closed = True
