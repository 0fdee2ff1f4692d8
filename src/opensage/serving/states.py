"""Endpoint statuses and the transitions between them."""

from __future__ import annotations

from enum import StrEnum

from opensage.statemachine import StateMachine


class EndpointStatus(StrEnum):
    """SageMaker's ``EndpointStatus`` (the ones a single machine has)."""

    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    FAILED = "Failed"
    DELETING = "Deleting"


E = EndpointStatus
ENDPOINT = StateMachine(
    "endpoint",
    {
        E.CREATING: {E.IN_SERVICE, E.FAILED, E.DELETING},
        E.IN_SERVICE: {E.UPDATING, E.DELETING, E.CREATING},
        E.UPDATING: {E.IN_SERVICE, E.DELETING, E.CREATING},
        E.FAILED: {E.DELETING, E.CREATING},
        E.DELETING: set(),
    },
)
