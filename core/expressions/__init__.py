"""Tessera's one expression language: formulas, roll-up filters, validation rules, rule conditions, reports.

``check(meta, object_name, text)`` reads an expression (``syntax``) and checks it against the
metadata (``check``), giving a ``Typed`` expression or an ``ExpressionError`` listing every
problem with its column; ``compile_sql(typed, table, joins)`` turns it into a SQLAlchemy
column expression (``sql``) and ``evaluate(typed, record, fetch)`` computes it in Python
(``python``), the three agreeing on SQLite and PostgreSQL. The language is documented for
implementers in docs/formulas.md.

Shared meaning: a blank (NULL) in arithmetic or a comparison gives blank; dividing by zero
gives blank; ``&`` and CONCAT read a blank as empty text; ISBLANK holds of NULL and ''; texts
compare case-sensitively by code point; dates and times are UTC; MIN and MAX skip blanks
(as Excel's do); ROUND rounds half away from zero.
"""

from core.expressions.check import FUNCTIONS, MAX_PATH, TYPES, Typed, check
from core.expressions.python import evaluate
from core.expressions.sql import Joins, compile_sql
from core.expressions.syntax import ExpressionError, parse

__all__ = ["FUNCTIONS", "MAX_PATH", "TYPES", "ExpressionError", "Joins", "Typed", "check", "compile_sql", "evaluate", "parse"]
