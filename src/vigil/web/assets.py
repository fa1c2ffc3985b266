"""Where the UI's files are, and which of them are served."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The npm packages the UI imports, each served from one folder of its installed package, never
# the whole node_modules tree.
VENDOR = {"uplot": Path("node_modules/uplot/dist")}
# A file every vendored package must have; without it `npm ci` has not run.
VENDOR_PROBE = VENDOR["uplot"] / "uPlot.esm.js"


def default_web_dir() -> Path:
    # src/vigil/web/assets.py → the repository root's web/ (an editable or source-tree install).
    return Path(__file__).resolve().parents[3] / "web"


@dataclass(frozen=True, slots=True)
class WebAssets:
    root: Path

    @classmethod
    def at(cls, web_dir: str | None) -> WebAssets:
        return cls(Path(web_dir).resolve() if web_dir else default_web_dir())

    @property
    def shell(self) -> Path:
        return self.root / "index.html"

    @property
    def source(self) -> Path:
        return self.root / "src"

    def vendor(self, package: str) -> Path:
        return self.root / VENDOR[package]

    def missing(self) -> str | None:
        """What is missing for the UI to run, or None."""
        if not self.shell.is_file() or not self.source.is_dir():
            return f"The UI's files are not in {self.root} (set web_dir / VIGIL_WEB_DIR to the web folder)."
        if not (self.root / VENDOR_PROBE).is_file():
            return ("The UI's packages are not installed: run `make install` (or `npm ci` in the web folder), "
                    "then reload this page.")
        return None
