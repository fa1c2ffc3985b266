"""Sites: a named group of apps (Akkeris serves one site from several apps' routes).

A site's members are set, all at once, by `PUT /sites/{site}` with `{"apps": [...]}`; that also
creates the site. Apps need not have logged yet: they exist implicitly with their first line, and a
site's log session shows whatever its members log. Site names are host names (`www.example.com`),
as in Akkeris.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from vigil.errors import ParamsError
from vigil.logs.model import is_valid_app_name
from vigil.storage import logs_tables as t
from vigil.storage.metadata import MetadataDB

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_SITE_NAME = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*")


def is_valid_site_name(name: str) -> bool:
    return _SITE_NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class Site:
    name: str
    apps: list[str]
    created_at: float
    updated_at: float


def parse_members(body: dict[str, Any], max_apps: int) -> list[str]:
    apps = body.get("apps")
    if not isinstance(apps, list):
        raise ParamsError({"apps": ["must be a list of app names"]}, status=422)
    if len(apps) > max_apps:
        raise ParamsError({"apps": [f"must have at most {max_apps} apps"]}, status=422)
    bad = [a for a in apps if not isinstance(a, str) or not is_valid_app_name(a)]
    if bad:
        raise ParamsError({"apps": [f"{str(bad[0])[:80]!r} is not an app name (lower-case letters, digits and "
                                    "'-', at most 63 characters)"]}, status=422)
    return list(dict.fromkeys(apps))


class Sites:
    def __init__(self, db: MetadataDB) -> None:
        self.db = db

    async def put(self, name: str, apps: list[str]) -> Site:
        s = t.log_sites
        now = time.time()
        async with self.db.begin() as conn:
            # Insert-or-ignore first, so two PUTs creating the same site at once both succeed.
            await conn.execute(t.insert_ignore(conn, s, ["name"]).values(name=name, apps=apps, created_at=now,
                                                                         updated_at=now))
            await conn.execute(s.update().where(s.c.name == name).values(apps=apps, updated_at=now))
            created = (await conn.execute(sa.select(s.c.created_at).where(s.c.name == name))).scalar_one()
        return Site(name, apps, created, now)

    async def get(self, name: str) -> Site | None:
        s = t.log_sites
        async with self.db.connect() as conn:
            row = (await conn.execute(sa.select(s).where(s.c.name == name))).mappings().first()
        if row is None:
            return None
        return Site(row["name"], list(row["apps"]), row["created_at"], row["updated_at"])
