"""API tokens: creation, lookup by secret, and the admin token a fresh server starts with."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from vigil.auth.roles import Role
from vigil.storage import tables
from vigil.storage.metadata import MetadataDB

log = logging.getLogger(__name__)

ADMIN_TOKEN_FILE = "admin-token"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> str:
    # 256 bits, hex like the original's tokens.
    return secrets.token_hex(32)


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: int
    name: str | None
    role: Role
    environment: str | None


class TokenStore:
    """Tokens live in the metadata DB; authenticated principals are cached by digest.

    The cache is dropped on every change made through this store, so deactivating or deleting a
    token stops it at once on this node.
    """

    def __init__(self, db: MetadataDB, cache_limit: int = 10_000) -> None:
        self._db = db
        self._cache: dict[str, Principal | None] = {}
        self._cache_limit = cache_limit

    def invalidate(self) -> None:
        self._cache.clear()

    async def authenticate(self, secret: str) -> Principal | None:
        key = digest(secret)
        if key in self._cache:
            return self._cache[key]
        t = tables.api_tokens
        async with self._db.connect() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.token_hash == key))).mappings().first()
        principal = None
        if row is not None and row["active"] and hmac.compare_digest(row["token_hash"], key):
            principal = Principal(row["id"], row["name"], Role(row["role"]), row["environment"])
        if len(self._cache) >= self._cache_limit:
            self._cache.clear()
        self._cache[key] = principal
        return principal

    async def create(self, *, name: str | None, role: Role, active: bool = True,
                     environment: str | None = None, secret: str | None = None,
                     keep_secret: bool = True) -> tuple[int, str]:
        secret = secret or new_secret()
        now = time.time()
        async with self._db.begin() as conn:
            result = await conn.execute(tables.api_tokens.insert().values(
                name=name, token=secret if keep_secret else None, token_hash=digest(secret), role=role.value,
                active=active, environment=environment, created_at=now, updated_at=now))
            token_id = result.inserted_primary_key[0]
        self.invalidate()
        return int(token_id), secret

    async def ensure_admin(self, configured: str | None, data_dir: Path) -> str | None:
        """Make sure an admin token exists. Returns a secret to print, or None when nothing new was made.

        A token from the environment becomes an active admin token (kept as its digest only: it is
        the operator's, and the API has no need to show it). Without one, the first start creates
        a token, writes it to the data dir (mode 0600) and returns it so the server can print it.
        """
        t = tables.api_tokens
        if configured:
            key = digest(configured)
            async with self._db.begin() as conn:
                row = (await conn.execute(sa.select(t.c.id).where(t.c.token_hash == key))).first()
                now = time.time()
                if row is None:
                    await conn.execute(t.insert().values(
                        name="admin (VIGIL_ADMIN_TOKEN)", token=None, token_hash=key, role="admin",
                        active=True, environment=None, created_at=now, updated_at=now))
                else:
                    await conn.execute(t.update().where(t.c.id == row[0]).values(
                        role="admin", active=True, updated_at=now))
            self.invalidate()
            return None
        path = data_dir / ADMIN_TOKEN_FILE
        if path.exists():
            secret = path.read_text().strip()
            if await self.authenticate(secret) is not None:
                return secret
        async with self._db.connect() as conn:
            admins = (await conn.execute(sa.select(sa.func.count()).select_from(t).where(
                t.c.role == "admin", t.c.active.is_(True)))).scalar()
        if admins:
            return None
        _, secret = await self.create(name="admin", role=Role.ADMIN)
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(secret + "\n")
        return secret
