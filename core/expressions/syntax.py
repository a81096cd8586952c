"""The expression language's grammar (lark, LALR) and the tree it is read into.

Spreadsheet-like, as Salesforce and Excel implementers know it. From the weakest binding to
the strongest: ``OR``; ``AND``; ``NOT``; comparisons (``= == != <> < <= > >=``, not chained);
``&`` (joins texts); ``+ -``; ``* /``; unary ``-``. ``AND(a, b, ...)`` and ``OR(a, b, ...)``
are also functions, and ``NOT(a)`` reads as ``NOT`` before a bracketed condition. Texts are
written in single or double quotes with ``\\`` escaping a quote, a backslash, ``\\n`` or ``\\t``;
numbers in digits with an optional decimal point; ``TRUE FALSE NULL`` and function names in
any case; a field by its API name, following lookups with dots (``account.owner.full_name``).
Whitespace and ``/* comments */`` are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from core.words import Sentence, sentence

GRAMMAR = r"""
?start: expr

?expr: or_expr
?or_expr: and_expr
        | or_expr OR and_expr           -> binary
?and_expr: not_expr
         | and_expr AND not_expr        -> binary
?not_expr: comparison
         | NOT not_expr                 -> prefix
?comparison: concat
           | concat COMP concat         -> binary
?concat: sum
       | concat AMP sum                 -> binary
?sum: product
    | sum PLUS product                  -> binary
    | sum MINUS product                 -> binary
?product: unary
        | product TIMES unary           -> binary
        | product DIVIDE unary          -> binary
?unary: atom
      | MINUS unary                     -> prefix
?atom: NUMBER                           -> number
     | STRING                           -> string
     | TRUE                             -> true
     | FALSE                            -> false
     | NULL                             -> null
     | path
     | call
     | LPAR expr RPAR                   -> group
call: (NAME | AND | OR) LPAR [expr (COMMA expr)*] RPAR
path: NAME (DOT NAME)*

AND.2: /and\b/i
OR.2: /or\b/i
NOT.2: /not\b/i
TRUE.2: /true\b/i
FALSE.2: /false\b/i
NULL.2: /null\b/i
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /[0-9]+(\.[0-9]+)?/
STRING: /'(?:[^'\\]|\\.)*'/ | /"(?:[^"\\]|\\.)*"/
COMP: /<=|>=|<>|!=|==|=|<|>/
AMP: "&"
PLUS: "+"
MINUS: "-"
TIMES: "*"
DIVIDE: "/"
LPAR: "("
RPAR: ")"
COMMA: ","
DOT: "."

COMMENT: /\/\*(.|\n)*?\*\//
%ignore /\s+/
%ignore COMMENT
"""

MAX_DEPTH = 100  # levels of nesting an expression may have: brackets, operators, functions in functions
PARSER = Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)

# What a terminal is called when a reader is told what could come next.
EXPECTED_WORDS = {
    "NAME": "syntax_field_or_function", "NUMBER": "syntax_number", "STRING": "syntax_text", "RPAR": "syntax_close",
    "LPAR": "syntax_open", "COMMA": "syntax_comma",
}
OPERATORS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass(eq=False)
class Node:
    """A part of an expression: where it starts (1-based line and column) and, once checked, its type."""

    line: int
    column: int
    type: str = field(default="", kw_only=True)


@dataclass(eq=False)
class Literal(Node):
    value: Any  # Decimal, str, bool or None


@dataclass(eq=False)
class Ref(Node):
    """A field, or a path of fields through lookups; ``fields`` (the FieldDefs along it) once checked."""

    names: tuple[str, ...]
    columns: tuple[int, ...] = ()
    fields: tuple = field(default=(), kw_only=True)


@dataclass(eq=False)
class Call(Node):
    """A function (``name`` in capitals), an infix AND/OR, or NOT."""

    name: str
    args: list[Node]


@dataclass(eq=False)
class Op(Node):
    """An operator: ``+ - * / &``, a comparison (``= != < <= > >=``), or ``neg`` (unary minus)."""

    op: str
    args: list[Node]


class ExpressionError(ValueError):
    """An expression that cannot be read or does not fit the metadata.

    ``problems``: (column, Sentence) pairs, the column 1-based in its line; ``lines`` the line of each
    (always 1 for an expression on one line)."""

    def __init__(self, problems: list[tuple[int, Sentence]], lines: list[int] | None = None) -> None:
        self.problems = problems
        self.lines = lines or [1] * len(problems)
        super().__init__(self.say("en"))

    def say(self, lang: str) -> str:
        """Every problem, each after where it is, in ``lang``."""
        several_lines = any(line != 1 for line in self.lines)
        parts = []
        for (column, problem), line in zip(self.problems, self.lines):
            where = sentence("expression_at_line", line=line, column=column) if several_lines else sentence("expression_at", column=column)
            parts.append(sentence("expression_problem", where=where, problem=problem).in_(lang))
        return ("；" if lang == "zh-CN" else "; ").join(parts)

    def as_sentence(self) -> Sentence:
        """Every problem as one Sentence, read in any language (a metadata problem's message)."""
        return _Said("expression_problems", error=self)


def _unquote(raw: str) -> str:
    body, out, i = raw[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            following = body[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(following, following))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _at(token: Token) -> dict:
    return {"line": token.line, "column": token.column}


@v_args(inline=True)
class _Build(Transformer):
    def number(self, token):
        return Literal(**_at(token), value=Decimal(str(token)))

    def string(self, token):
        return Literal(**_at(token), value=_unquote(str(token)))

    def true(self, token):
        return Literal(**_at(token), value=True)

    def false(self, token):
        return Literal(**_at(token), value=False)

    def null(self, token):
        return Literal(**_at(token), value=None)

    def group(self, _open, inner, _close):
        return inner

    def path(self, *tokens):
        names = [t for t in tokens if t.type == "NAME"]
        return Ref(**_at(names[0]), names=tuple(str(t) for t in names), columns=tuple(t.column for t in names))

    def call(self, name, _open, *rest):
        args = [part for part in rest if isinstance(part, Node)]
        return Call(**_at(name), name=str(name).upper(), args=args)

    def prefix(self, operator, operand):
        if operator.type == "NOT":
            return Call(**_at(operator), name="NOT", args=[operand])
        return Op(**_at(operator), op="neg", args=[operand])

    def binary(self, left, operator, right):
        if operator.type in ("AND", "OR"):
            return Call(**_at(operator), name=str(operator).upper(), args=[left, right])
        op = OPERATORS.get(str(operator), str(operator))
        return Op(**_at(operator), op=op, args=[left, right])


def parse(text: str) -> Node:
    """The tree of ``text``; ExpressionError (with its line and column) when it is not an expression."""
    if not str(text).strip():
        raise ExpressionError([(1, sentence("syntax_empty"))])
    try:
        tree = PARSER.parse(text)
    except UnexpectedInput as exc:
        line, column = max(getattr(exc, "line", 1) or 1, 1), max(getattr(exc, "column", 1) or 1, 1)
        if _at_end(exc):  # just after the last character
            lines = text.rstrip().split("\n")
            line, column = len(lines), len(lines[-1]) + 1
        raise ExpressionError([(column, _syntax_problem(exc, text))], [line]) from None
    if _depth(tree) > MAX_DEPTH:
        raise ExpressionError([(1, sentence("expr_too_nested", limit=MAX_DEPTH))])
    try:
        return _Build().transform(tree)
    except VisitError as exc:  # pragma: no cover - the builder raises nothing of its own
        raise exc.orig_exc from None


def _depth(tree) -> int:
    """How deeply the parse tree nests (counted without recursion: the checks, the compilers and SQLAlchemy recurse)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in getattr(node, "children", ()) if hasattr(child, "children"))
    return deepest


def _expected(names) -> Sentence | str:
    words = sorted({EXPECTED_WORDS.get(name, "") for name in names} - {""})
    if not words:
        return ""
    return sentence("syntax_expected", things=_Either("either", parts=tuple(sentence(w) for w in words)))


@dataclass(frozen=True)
class _Either(Sentence):
    """What may come next, said in one language, separated by " / "."""

    parts: tuple = ()

    def in_(self, lang: str) -> str:
        return " / ".join(part.in_(lang) for part in self.parts)


@dataclass(frozen=True)
class _Said(Sentence):
    """An ExpressionError's problems, said in the language asked."""

    error: ExpressionError | None = None

    def in_(self, lang: str) -> str:
        return self.error.say(lang)


def _at_end(exc: UnexpectedInput) -> bool:
    return isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END")


def _syntax_problem(exc: UnexpectedInput, text: str) -> Sentence:
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        if char in "'\"":
            return sentence("syntax_open_text")
        return sentence("syntax_character", char=char)
    if _at_end(exc):
        return sentence("syntax_end", expected=_expected(exc.expected))
    assert isinstance(exc, UnexpectedToken)
    return sentence("syntax_token", token=str(exc.token), expected=_expected(exc.expected))
