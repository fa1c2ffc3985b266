"""GET /v1/organization."""

from __future__ import annotations

from tests.conftest import StartVigil, Vigil
from vigil.auth.roles import Role


async def test_defaults(vigil: Vigil) -> None:
    r = await vigil.client.get("/v1/organization")
    assert r.status_code == 200
    assert r.json() == {"id": "1", "name": "vigil"}


async def test_configured_and_viewer_may_read(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(organization_id="acme42", organization_name="Acme Corp")
    async with vigil.as_token(await vigil.token(Role.VIEWER)) as viewer:
        assert (await viewer.get("/v1/organization")).json() == {"id": "acme42", "name": "Acme Corp"}
