"""The Cradle API over HTTP, for the CLI: bearer token in, JSON or a problem document out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx


class ApiError(Exception):
    """The API answered with a problem document (or something unexpected)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(self.describe())

    def describe(self) -> str:
        title = self.problem.get("title") or f"HTTP {self.status}"
        lines = [f"{title}: {self.problem.get('detail', '')}".rstrip(": ")]
        lines += [f"  {e['location']}: {e['message']}" for e in self.problem.get("errors") or []]
        if self.problem.get("request_id"):
            lines.append(f"  (request id {self.problem['request_id']})")
        return "\n".join(lines)


class CradleClient:
    def __init__(
        self, api_url: str, token: Callable[[], str] | None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._token = token
        self._http = httpx.Client(base_url=api_url.rstrip("/"), timeout=30.0, transport=transport)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def text(self, path: str, **params: Any) -> str:
        """A document that is not JSON (a report in Markdown or HTML)."""
        return self._send("GET", path, params={k: v for k, v in params.items() if v is not None}).text

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token()}"
        response = self._http.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase, "detail": response.text[:500]}
            raise ApiError(
                response.status_code, problem if isinstance(problem, dict) else {"detail": str(problem)}
            )
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request(
            "POST", path, json=body, params={k: v for k, v in params.items() if v is not None}
        )

    def put(self, path: str, body: Any = None) -> Any:
        return self.request("PUT", path, json=body)

    def pages(self, path: str, **params: Any) -> list[Any]:
        """Every item of a paginated list."""
        items: list[Any] = []
        cursor = None
        while True:
            page = self.get(path, cursor=cursor, limit=200, **params)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def close(self) -> None:
        self._http.close()
