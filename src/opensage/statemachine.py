"""State machines declared once: allowed transitions, checked on every status change."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from opensage.errors import Conflict

S = TypeVar("S", bound=StrEnum)


class StateMachine(Generic[S]):
    """The allowed transitions between the states of one resource."""

    def __init__(self, resource: str, transitions: Mapping[S, Iterable[S]]) -> None:
        self.resource = resource
        self.transitions: dict[S, frozenset[S]] = {s: frozenset(t) for s, t in transitions.items()}

    def can(self, current: S, target: S) -> bool:
        """Whether ``current`` may move to ``target``."""
        return target in self.transitions.get(current, frozenset())

    def check(self, current: S, target: S) -> S:
        """Return ``target`` if the move is allowed, else raise ``Conflict``."""
        if not self.can(current, target):
            raise Conflict(
                f"{self.resource} cannot go from {current.value} to {target.value}",
                field="status",
            )
        return target

    def is_terminal(self, state: S) -> bool:
        """Whether no transition leaves ``state``."""
        return not self.transitions.get(state)
