"""The AppOptics/Librato composite metric language: parse() and evaluate().

See LANGUAGE.md next to this file for the language reference and the choices made
where the original documentation was silent or contradictory.
"""

from .errors import CompositeError
from .evaluator import evaluate
from .expr import Expr
from .limits import Limits
from .parser import parse
from .types import Series, SeriesSource

__all__ = ["CompositeError", "Expr", "Limits", "Series", "SeriesSource", "evaluate", "parse"]
