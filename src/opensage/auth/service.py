"""The auth capability: users, API keys, who the caller is, and the audit log."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opensage.auth import keys
from opensage.auth.models import ApiKey, AuditEvent, User
from opensage.auth.policy import Role
from opensage.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    AuditEventOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from opensage.db import Database, utcnow
from opensage.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from opensage.pagination import Page, check_limit, decode_token, encode_token

logger = logging.getLogger(__name__)

BOOTSTRAP_ADMIN = "admin"
LAST_USED_EVERY_S = 60.0


@dataclass(frozen=True)
class Principal:
    """The caller of a request."""

    name: str
    role: Role
    key_id: str | None = None


LOCAL = Principal(name="local", role=Role.ADMIN)
"""Who the caller is when auth is off (loopback only): the machine's own user."""


class AuthService:
    """Authenticate callers by API key and manage users, keys and the audit log."""

    def __init__(self, db: Database, secret: bytes, *, enabled: bool) -> None:
        self.db = db
        self.enabled = enabled
        self._secret = secret
        self._last_used_written: dict[str, float] = {}
        self._lock = threading.Lock()

    # -- who is calling ---------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> Principal:
        """The principal behind an ``Authorization: Bearer <key>`` header."""
        if not self.enabled:
            return LOCAL
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
        wanted = keys.digest(self._secret, key.strip())
        with self.db.reader() as session:
            found = session.execute(
                select(ApiKey, User)
                .join(User, User.id == ApiKey.user_id)
                .where(ApiKey.digest == wanted)
            ).first()
        # The same message for every failure, so a caller learns nothing about which keys exist.
        refused = Unauthorized("the API key is not valid (unknown, revoked or expired)")
        if found is None or not keys.same_digest(found[0].digest, wanted):
            raise refused
        api_key, user = found
        now = utcnow()
        if api_key.revoked_at is not None or user.disabled:
            raise refused
        if api_key.expires_at is not None and api_key.expires_at <= now:
            raise refused
        self._touch(api_key.id)
        return Principal(name=user.name, role=Role(user.role), key_id=api_key.id)

    def _touch(self, key_id: str) -> None:
        """Record the key's last use, at most once a minute (no write per request)."""
        moment = time.monotonic()
        with self._lock:
            if moment - self._last_used_written.get(key_id, -LAST_USED_EVERY_S) < LAST_USED_EVERY_S:
                return
            self._last_used_written[key_id] = moment
        with self.db.transaction() as session:
            key = session.get(ApiKey, key_id)
            if key is not None:
                key.last_used_at = utcnow()

    def bootstrap(self, admin_key: str | None = None) -> str | None:
        """On first start with auth on, create the ``admin`` user and its key.

        Returns the new key to show once, or None when users already exist (or when the
        key came from the environment, so there is nothing to show).
        """
        with self.db.reader() as session:
            if session.scalar(select(func.count()).select_from(User)):
                return None
        if admin_key is not None and len(admin_key) < keys.MIN_KEY_LENGTH:
            raise InvalidInput(
                f"the bootstrap admin key must have at least {keys.MIN_KEY_LENGTH} characters",
                field="admin_api_key",
            )
        key = admin_key or keys.generate_key()
        try:
            with self.db.transaction() as session:
                user = User(name=BOOTSTRAP_ADMIN, role=Role.ADMIN.value, created_at=utcnow())
                session.add(user)
                session.flush()
                session.add(self._new_key_row(user, key, "bootstrap", None))
                self._record(session, BOOTSTRAP_ADMIN, "bootstrap_admin", "user", BOOTSTRAP_ADMIN)
        except IntegrityError:  # another process bootstrapped meanwhile
            return None
        return None if admin_key else key

    # -- users ------------------------------------------------------------------------
    def create_user(self, request: UserCreate) -> UserOut:
        """Create a user with a role."""
        try:
            with self.db.transaction() as session:
                user = User(name=request.name, role=request.role.value, created_at=utcnow())
                session.add(user)
                session.flush()
                return _user_out(user)
        except IntegrityError:
            raise Conflict(f"user {request.name!r} already exists", field="name") from None

    def get_user(self, name: str) -> UserOut:
        """The user called ``name``."""
        with self.db.reader() as session:
            return _user_out(self._user(session, name))

    def list_users(self, *, limit: int = 50, page_token: str | None = None) -> Page[UserOut]:
        """Users by name, a page at a time."""
        check_limit(limit)
        after = decode_token(page_token)
        query = select(User).order_by(User.name).limit(limit + 1)
        if after is not None:
            query = query.where(User.name > str(after.get("name", "")))
        with self.db.reader() as session:
            rows = session.scalars(query).all()
        items = [_user_out(u) for u in rows[:limit]]
        token = encode_token({"name": items[-1].name}) if len(rows) > limit else None
        return Page[UserOut](items=items, next_page_token=token)

    def update_user(self, name: str, request: UserUpdate, caller: Principal) -> UserOut:
        """Change a user's role or disabled flag (an admin cannot lock themselves out)."""
        if name == caller.name and (
            request.disabled or (request.role is not None and request.role != Role.ADMIN)
        ):
            raise Conflict("you cannot disable yourself or drop your own admin role", field="name")
        with self.db.transaction() as session:
            user = self._user(session, name)
            if request.role is not None:
                user.role = request.role.value
            if request.disabled is not None:
                user.disabled = request.disabled
            return _user_out(user)

    # -- keys -------------------------------------------------------------------------
    def create_key(self, user_name: str, request: ApiKeyCreate) -> ApiKeyCreated:
        """A new key for ``user_name``; its secret is in this answer only."""
        key = keys.generate_key()
        expires = (
            utcnow() + timedelta(days=request.expires_in_days) if request.expires_in_days else None
        )
        with self.db.transaction() as session:
            user = self._user(session, user_name)
            row = self._new_key_row(user, key, request.name, expires)
            session.add(row)
            session.flush()
            return ApiKeyCreated(**_key_out(row, user.name).model_dump(), key=key)

    def list_keys(self, user_name: str) -> list[ApiKeyOut]:
        """A user's keys (metadata only), newest first."""
        with self.db.reader() as session:
            user = self._user(session, user_name)
            rows = session.scalars(
                select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at.desc())
            ).all()
            return [_key_out(r, user.name) for r in rows]

    def revoke_key(self, key_id: str, caller: Principal) -> ApiKeyOut:
        """Revoke a key: its owner or an admin may."""
        with self.db.transaction() as session:
            found = session.execute(
                select(ApiKey, User)
                .join(User, User.id == ApiKey.user_id)
                .where(ApiKey.id == key_id)
            ).first()
            if found is None or (caller.role != Role.ADMIN and found[1].name != caller.name):
                raise NotFound(f"API key {key_id!r} does not exist", field="key_id")
            api_key, user = found
            if api_key.revoked_at is None:
                api_key.revoked_at = utcnow()
            return _key_out(api_key, user.name)

    # -- audit log --------------------------------------------------------------------
    def record(
        self,
        actor: str,
        action: str,
        resource_type: str,
        resource_name: str,
        status: int = 200,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry to the audit log."""
        with self.db.transaction() as session:
            self._record(session, actor, action, resource_type, resource_name, status, details)

    def list_audit(
        self,
        *,
        limit: int = 50,
        page_token: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        resource_type: str | None = None,
    ) -> Page[AuditEventOut]:
        """Audit entries, newest first, filtered in SQL on indexed columns."""
        check_limit(limit)
        after = decode_token(page_token)
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
        if after is not None:
            query = query.where(AuditEvent.id < int(after.get("id", 0)))
        for column, value in (
            (AuditEvent.actor, actor),
            (AuditEvent.action, action),
            (AuditEvent.resource_type, resource_type),
        ):
            if value:
                query = query.where(column == value)
        with self.db.reader() as session:
            rows = session.scalars(query).all()
        items = [AuditEventOut.model_validate(r, from_attributes=True) for r in rows[:limit]]
        token = encode_token({"id": items[-1].id}) if len(rows) > limit else None
        return Page[AuditEventOut](items=items, next_page_token=token)

    # -- internals --------------------------------------------------------------------
    def _new_key_row(self, user: User, key: str, name: str, expires: Any) -> ApiKey:
        return ApiKey(
            user_id=user.id,
            name=name,
            prefix=keys.display_prefix(key),
            digest=keys.digest(self._secret, key),
            created_at=utcnow(),
            expires_at=expires,
        )

    @staticmethod
    def _record(
        session: Session,
        actor: str,
        action: str,
        resource_type: str,
        resource_name: str,
        status: int = 200,
        details: dict[str, Any] | None = None,
    ) -> None:
        session.add(
            AuditEvent(
                at=utcnow(),
                actor=actor,
                action=action,
                resource_type=resource_type,
                resource_name=resource_name,
                status=status,
                details=details or {},
            )
        )

    @staticmethod
    def _user(session: Session, name: str) -> User:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFound(f"user {name!r} does not exist", field="name")
        return user


def _user_out(user: User) -> UserOut:
    return UserOut(
        name=user.name, role=Role(user.role), disabled=user.disabled, created_at=user.created_at
    )


def _key_out(row: ApiKey, user_name: str) -> ApiKeyOut:
    return ApiKeyOut(
        key_id=row.id,
        user=user_name,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def require_permission_error(principal: Principal, permission: str) -> Forbidden:
    """The 403 for a signed-in caller whose role lacks ``permission``."""
    return Forbidden(
        f"user {principal.name!r} (role {principal.role.value}) may not do this "
        f"(needs permission {permission})"
    )
