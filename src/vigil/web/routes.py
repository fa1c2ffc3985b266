"""Routes of the UI: its API additions (`api.py`), the app shell at `/` and its files under `/ui/`.

Registered after every API route. The UI navigates with the URL's fragment (`/#/spaces/3`), so the
shell is the only page; `/ui/app/…` serves `web/src`, `/ui/vendor/<package>/…` one folder of an
installed npm package.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from vigil.config import Settings
from vigil.web import api
from vigil.web.assets import VENDOR, WebAssets

# Everything the UI loads comes from this origin; data only through fetch() to the APIs.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time (ETag): a new version of the UI shows at the next load.
    "Cache-Control": "no-cache",
}

_UNAVAILABLE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil</title><link rel="icon" href="data:,"></head>
<body><h1>Vigil</h1><p>{message}</p><p>The APIs work regardless; only the browser UI is unavailable.</p>
</body></html>
"""


class _Files(StaticFiles):
    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers.update(HEADERS)
        return response


def routes(settings: Settings) -> list[BaseRoute]:
    assets = WebAssets.at(settings.web_dir)

    async def shell(request: Request) -> Response:
        problem = assets.missing()
        if problem is not None:
            return HTMLResponse(_UNAVAILABLE.format(message=problem), 503, headers=HEADERS)
        return HTMLResponse(assets.shell.read_bytes(), headers=HEADERS)

    found: list[BaseRoute] = [
        *api.routes,
        Route("/", shell, methods=["GET"]),
        Mount("/ui/app", _Files(directory=assets.source, check_dir=False)),
    ]
    found += [Mount(f"/ui/vendor/{name}", _Files(directory=assets.vendor(name), check_dir=False)) for name in VENDOR]
    return found
