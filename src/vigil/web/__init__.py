"""The browser UI served at `/`: the app shell, its static files and `GET /v1/whoami` (docs/web.md).

The UI is plain ES modules under the repository's `web/` folder; its only third-party code comes
from the npm packages `npm ci` installs there. Everything it shows comes from the token-checked
APIs, so the shell and the files need no token.
"""

from vigil.web.routes import routes

__all__ = ["routes"]
