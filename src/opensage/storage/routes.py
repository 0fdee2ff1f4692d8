"""HTTP routes for staged uploads: stream a file once, then refer to it as a source."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from opensage.auth.policy import Permission, rule
from opensage.platform import Platform
from opensage.server.deps import get_platform
from opensage.storage.uploads import UploadLink, UploadOut

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadOut,
    openapi_extra={
        **rule(Permission.DATASETS_WRITE),
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
    },
)
async def create_upload(
    request: Request,
    platform: Annotated[Platform, Depends(get_platform)],
    filename: Annotated[str, Query(min_length=1, max_length=255)],
) -> UploadOut:
    """Stream the request body to the server; use the returned ``source`` to create a dataset."""
    return await platform.uploads.receive(request.stream(), filename)


@router.post(
    "/link",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadOut,
    openapi_extra=rule(Permission.DATASETS_WRITE),
)
def link_upload(
    request: UploadLink, platform: Annotated[Platform, Depends(get_platform)]
) -> UploadOut:
    """Stage a file already on the server's machine without copying it (a hard link into
    the upload area); only while auth is off. The SDK does this for a server on
    127.0.0.1 and streams the file when the server refuses."""
    return platform.uploads.link(request)
