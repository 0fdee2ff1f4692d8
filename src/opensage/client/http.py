"""The SDK's HTTP session: base URL, timeouts, and errors turned back into typed exceptions."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx

from opensage.client.credentials import find_api_key
from opensage.errors import OpenSageError, ServerUnavailable, error_from_body

DEFAULT_URL = "http://127.0.0.1:8080"


W = TypeVar("W")


def default_url() -> str:
    """``OPENSAGE_URL`` if set, else the local server."""
    return os.environ.get("OPENSAGE_URL") or DEFAULT_URL


class HTTPSession:
    """Sends requests to one OpenSage server and raises its errors as typed exceptions."""

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 300.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = (url or default_url()).rstrip("/")
        self._http = http or httpx.Client(base_url=self.url, timeout=timeout)
        key = find_api_key(self.url, api_key)
        if key:
            self._http.headers["Authorization"] = f"Bearer {key}"

    @property
    def is_local(self) -> bool:
        """Whether the server's URL is a loopback address (the server runs on this machine)."""
        host = httpx.URL(self.url).host
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header this session sends (for the endpoints' data plane)."""
        value = self._http.headers.get("Authorization")
        return {"Authorization": value} if value else {}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; raise the server's error as its ``OpenSageError`` subclass."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerUnavailable(
                f"cannot reach the OpenSage server at {self.url} ({exc}); "
                "start one with `opensage up` or set OPENSAGE_URL"
            ) from None
        raise_for_error(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and decode its JSON answer."""
        return self.request(method, path, **kwargs).json()

    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[bytes]:
        """Send a request and yield the answer's body in chunks."""
        try:
            with self._http.stream(method, path, **kwargs) as response:
                if response.is_error:
                    response.read()
                    raise_for_error(response)
                yield from response.iter_bytes()
        except httpx.TransportError as exc:
            raise ServerUnavailable(
                f"cannot reach the OpenSage server at {self.url} ({exc})"
            ) from None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def raise_for_error(response: httpx.Response) -> None:
    """Raise the typed error carried by an error response."""
    if not response.is_error:
        return
    try:
        body = response.json()
    except ValueError:
        body = response.text
    error: OpenSageError = error_from_body(response.status_code, body)
    raise error


def iter_pages(
    session: HTTPSession, path: str, model: Any, params: dict[str, Any] | None = None
) -> Iterator[Any]:
    """Every item of a paginated list route, fetching pages as needed."""
    token: str | None = None
    while True:
        query = dict(params or {}, limit=200)
        if token:
            query["page_token"] = token
        page = session.json("GET", path, params=query)
        for item in page["items"]:
            yield model.model_validate(item)
        token = page.get("next_page_token")
        if not token:
            return


def list_filtered(
    session: HTTPSession,
    path: str,
    model: Any,
    wrap: Callable[[Any], W],
    *,
    status: str | None,
    name_contains: str | None,
    limit: int | None,
) -> list[W]:
    """A list route filtered by status and name, as SDK objects, up to ``limit`` of them."""
    params = {k: v for k, v in {"status": status, "name_contains": name_contains}.items() if v}
    found: list[W] = []
    for info in iter_pages(session, path, model, params):
        found.append(wrap(info))
        if limit is not None and len(found) >= limit:
            break
    return found
