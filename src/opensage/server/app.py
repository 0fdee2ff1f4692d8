"""App factory: one FastAPI app with every capability's routes on one platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from opensage._version import __version__
from opensage.auth.policy import Permission, rule
from opensage.auth.routes import router as auth_router
from opensage.config import Settings
from opensage.console.routes import STATIC as CONSOLE_STATIC
from opensage.console.routes import PageNotFound, SignInNeeded, not_found_page, sign_in_redirect
from opensage.console.routes import router as console_router
from opensage.datasets.routes import router as datasets_router
from opensage.monitoring.routes import router as monitoring_router
from opensage.platform import Platform, open_platform
from opensage.registry.routes import router as registry_router
from opensage.server.deps import authorize
from opensage.server.errors import install_error_handlers
from opensage.server.middleware import (
    AuditMiddleware,
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
)
from opensage.serving.routes import router as endpoints_router
from opensage.serving.routes import runtime as runtime_router
from opensage.storage.routes import router as uploads_router
from opensage.training.routes import router as training_router
from opensage.transform.routes import router as transform_router
from opensage.tuning.routes import router as tuning_router


def create_app(settings: Settings | None = None, *, platform: Platform | None = None) -> FastAPI:
    """Build the API app; the platform opens at start-up (or is the one given)."""
    settings = settings or (platform.settings if platform else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = platform is None
        app.state.platform = platform or open_platform(settings)
        app.state.platform.start()
        try:
            yield
        finally:
            if owned:
                app.state.platform.close()
            else:
                app.state.platform.stop()

    app = FastAPI(
        title="OpenSage",
        version=__version__,
        description="Self-hosted machine-learning platform: native REST API.",
        lifespan=lifespan,
        dependencies=[Depends(authorize)],
    )
    if platform is not None:
        app.state.platform = platform
    install_error_handlers(app)

    @app.get("/health", tags=["health"], openapi_extra=rule(Permission.PUBLIC))
    async def health() -> dict[str, str]:
        """Liveness: the server answers and its stores are open."""
        return {"status": "ok", "version": __version__}

    app.include_router(auth_router)
    app.include_router(uploads_router)
    app.include_router(datasets_router)
    app.include_router(training_router)
    app.include_router(tuning_router)
    app.include_router(registry_router)
    app.include_router(endpoints_router)
    app.include_router(runtime_router)
    app.include_router(transform_router)
    app.include_router(monitoring_router)
    app.include_router(console_router)
    app.mount("/console/static", StaticFiles(directory=CONSOLE_STATIC), name="console-static")
    app.add_exception_handler(SignInNeeded, sign_in_redirect)  # type: ignore[arg-type]
    app.add_exception_handler(PageNotFound, not_found_page)  # type: ignore[arg-type]
    app.add_middleware(AuditMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        exempt_prefixes=("/api/v1/uploads",),
    )
    app.add_middleware(SecurityHeadersMiddleware)
    return app
