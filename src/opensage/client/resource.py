"""What every SDK resource object shares: the server's last description of it (``info``),
read again on demand, changed by requests that answer with the new description, and
waited on until it settles."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from pydantic import BaseModel

from opensage.client.http import HTTPSession

Info = TypeVar("Info", bound=BaseModel)


class Resource(Generic[Info]):
    """A resource on the server, as its API shape ``info`` was last read."""

    info_type: ClassVar[type[BaseModel]]
    """The API shape of ``info``."""

    def __init__(self, session: HTTPSession, info: Info) -> None:
        self._session = session
        self.info = info

    @property
    def path(self) -> str:
        """The resource's path in the API."""
        raise NotImplementedError

    def refresh(self) -> Self:
        """Fetch the resource's current state."""
        return self._send("GET")

    def _send(self, method: str, suffix: str = "", **kwargs: Any) -> Self:
        """A request about this resource; its answer is the resource's new description."""
        body = self._session.json(method, self.path + suffix, **kwargs)
        self.info = cast(Info, self.info_type.model_validate(body))
        return self

    def _wait_while(
        self,
        busy: Callable[[], bool],
        timeout: float | None,
        poll_s: float,
        still: Callable[[], str],
    ) -> Self:
        """Refresh until ``busy()`` is false; after ``timeout`` seconds, TimeoutError with
        the message ``still()`` gives."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.refresh()
            if not busy():
                return self
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(still())
            time.sleep(poll_s)
