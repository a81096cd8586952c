"""Type checking an expression against the metadata: each node gets its type, each field reference its FieldDefs.

Types: ``number``, ``text``, ``date``, ``datetime``, ``boolean``, and ``null`` for a bare NULL
(it takes the type around it). Picklists, e-mails, phones, URLs and autonumbers read as text; a
lookup named alone reads as its record's id (a number), and followed by a dot it leads to its
target object. Every problem is collected (not only the first), each with its column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from core.expressions.syntax import Call, ExpressionError, Literal, Node, Op, Ref, parse
from core.metadata.model import FieldDef, MetadataSet
from core.words import Sentence, hint, sentence

NUMBER, TEXT, DATE, DATETIME, BOOLEAN, NULL = "number", "text", "date", "datetime", "boolean", "null"
TYPES = (NUMBER, TEXT, DATE, DATETIME, BOOLEAN)
ANY = frozenset(TYPES)
MOMENTS = frozenset({DATE, DATETIME})
ORDERED = frozenset({NUMBER, TEXT, DATE, DATETIME})
MAX_PATH = 3  # names in a path: account.owner.full_name
ROUND_DIGITS = (-10, 10)

def value_type(ftype) -> str | None:
    """What an expression reads a field of this type as, from its family (so that a type a plugin registers is read like
    the built-in types of its family); None: an expression cannot read it (several values, a JSON document)."""
    if ftype.multiple:
        return None
    return {"number": NUMBER, "text": TEXT, "choice": TEXT, "boolean": BOOLEAN, "relation": NUMBER,
            "date": DATETIME if ftype.with_time else DATE}.get(ftype.family)



# Functions whose arguments each accept a fixed set of types: name -> (argument types, result type).
FIXED: dict[str, tuple[tuple[frozenset, ...], str]] = {
    "ABS": ((frozenset({NUMBER}),), NUMBER),
    "ROUND": ((frozenset({NUMBER}), frozenset({NUMBER})), NUMBER),
    "LEN": ((frozenset({TEXT}),), NUMBER),
    "UPPER": ((frozenset({TEXT}),), TEXT),
    "LOWER": ((frozenset({TEXT}),), TEXT),
    "LEFT": ((frozenset({TEXT}), frozenset({NUMBER})), TEXT),
    "CONTAINS": ((frozenset({TEXT}), frozenset({TEXT})), BOOLEAN),
    "TEXT": ((ANY,), TEXT),
    "ISBLANK": ((ANY,), BOOLEAN),
    "NOT": ((frozenset({BOOLEAN}),), BOOLEAN),
    "TODAY": ((), DATE),
    "NOW": ((), DATETIME),
    "DAYS_BETWEEN": ((MOMENTS, MOMENTS), NUMBER),
    "HOURS_BETWEEN": ((MOMENTS, MOMENTS), NUMBER),
    "YEAR": ((MOMENTS,), NUMBER),
    "MONTH": ((MOMENTS,), NUMBER),
    "DAY": ((MOMENTS,), NUMBER),
}
# Functions of any number of arguments of one kind: name -> (accepted types, least count, result or "same").
VARIADIC: dict[str, tuple[frozenset, int, str]] = {
    "AND": (frozenset({BOOLEAN}), 1, BOOLEAN),
    "OR": (frozenset({BOOLEAN}), 1, BOOLEAN),
    "CONCAT": (frozenset({TEXT}), 1, TEXT),
    "MIN": (frozenset({NUMBER, DATE, DATETIME}), 1, "same"),
    "MAX": (frozenset({NUMBER, DATE, DATETIME}), 1, "same"),
}
SPECIAL = ("IF", "CASE", "BLANKVALUE", "ISPICKVAL", "ADD_DAYS")
FUNCTIONS: tuple[str, ...] = tuple(sorted([*FIXED, *VARIADIC, *SPECIAL]))


@dataclass(eq=False)
class Typed:
    """A checked expression: its tree (typed), its result type, the object it is about and its text."""

    root: Node
    type: str
    object: str
    text: str

    def refs(self) -> Iterator[Ref]:
        """Every field reference in it."""
        return (node for node in walk(self.root) if isinstance(node, Ref))

    def paths(self) -> set[tuple[str, ...]]:
        """The field paths it reads (("amount",), ("account", "owner", "full_name")...)."""
        return {ref.names for ref in self.refs()}


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in getattr(node, "args", ()):
        yield from walk(child)


def check(meta: MetadataSet, object_name: str, text: str, expect: str | None = None) -> Typed:
    """``text`` parsed and checked against ``object_name``'s fields (its system fields too); ExpressionError naming
    every problem with its column. ``expect``: the result type the caller needs (``boolean`` for a rule)."""
    root = parse(text)
    checker = _Checker(meta, object_name)
    result = checker.visit(root)
    if expect and not checker.problems and result not in (expect, NULL):
        checker.report(root, sentence("expr_result_type", actual=_type_word(result), expected=_type_word(expect)), column=1)
    if checker.problems:
        checker.problems.sort(key=lambda p: (p[0], p[1]))
        raise ExpressionError([(column, said) for _line, column, said in checker.problems],
                              [line for line, _column, _said in checker.problems])
    if result == NULL and expect:
        _settle(root, expect)
        result = expect
    return Typed(root, result, object_name, text)


def _type_word(kind: str) -> Sentence:
    return sentence(f"type_{kind}")


def _types_word(kinds) -> Sentence:
    ordered = [k for k in (*TYPES, NULL) if k in kinds]
    said = _type_word(ordered[0])
    for kind in ordered[1:]:
        said = sentence("types_or", first=said, second=_type_word(kind))
    return said


def _settle(node: Node, kind: str) -> None:
    """Give a bare NULL (and the branches made only of NULLs) the type the context wants."""
    if node.type != NULL:
        return
    node.type = kind
    if isinstance(node, Call) and node.name in ("IF", "CASE", "BLANKVALUE", "MIN", "MAX"):
        for arg in _results(node):
            _settle(arg, kind)


def _results(call: Call) -> list[Node]:
    """The arguments that can be the call's result."""
    if call.name == "IF":
        return call.args[1:]
    if call.name == "CASE":
        return [arg for i, arg in enumerate(call.args) if i >= 2 and i % 2 == 0] + [call.args[-1]]
    return list(call.args)


class _Checker:
    def __init__(self, meta: MetadataSet, object_name: str) -> None:
        self.meta = meta
        self.object = object_name
        self.problems: list[tuple[int, int, Sentence]] = []
        self._fields: dict[str, dict[str, FieldDef]] = {}

    def report(self, node: Node, said: Sentence, column: int | None = None) -> None:
        self.problems.append((node.line, column or node.column, said))

    def fields(self, object_name: str) -> dict[str, FieldDef]:
        if object_name not in self._fields:
            self._fields[object_name] = self.meta.fields_with_system(object_name)
        return self._fields[object_name]

    def visit(self, node: Node) -> str:
        """The node's type (also set on it); "" when it is wrong (its problem reported)."""
        if isinstance(node, Literal):
            value = node.value
            node.type = NULL if value is None else BOOLEAN if isinstance(value, bool) else TEXT if isinstance(value, str) else NUMBER
        elif isinstance(node, Ref):
            node.type = self.ref(node)
        elif isinstance(node, Op):
            node.type = self.op(node)
        else:
            assert isinstance(node, Call)
            node.type = self.call(node)
        return node.type

    # --- fields ----------------------------------------------------------------------------------

    def ref(self, ref: Ref) -> str:
        if len(ref.names) > MAX_PATH:
            self.report(ref, sentence("expr_too_deep", limit=MAX_PATH, count=len(ref.names), example="account.owner.full_name"),
                        ref.columns[MAX_PATH])
            return ""
        object_name, found = self.object, []
        for i, (name, column) in enumerate(zip(ref.names, ref.columns)):
            fields = self.fields(object_name)
            fdef = fields.get(name)
            if fdef is None:
                usable = [n for n, f in fields.items() if value_type(f.type)]
                self.report(ref, sentence("expr_unknown_field", name=name, object=object_name, hint=hint(name, usable)), column)
                return ""
            found.append(fdef)
            kind = fdef.type.name
            if i < len(ref.names) - 1:
                if kind == "dynamic_lookup":
                    self.report(ref, sentence("expr_dynamic_lookup", name=name), column)
                    return ""
                if kind != "lookup":
                    self.report(ref, sentence("expr_not_lookup", name=name), column)
                    return ""
                object_name = fdef.spec["target"]
            elif value_type(fdef.type) is None:
                self.report(ref, sentence("expr_field_unusable", name=name, type=kind), column)
                return ""
        ref.fields = tuple(found)
        return value_type(found[-1].type)

    # --- operators -------------------------------------------------------------------------------

    def op(self, node: Op) -> str:
        kinds = [self.visit(arg) for arg in node.args]
        if "" in kinds:
            return ""
        if node.op in ("neg", "+", "-", "*", "/"):
            for arg, kind in zip(node.args, kinds):
                if kind not in (NUMBER, NULL):
                    advice = sentence("expr_advice_dates") if kind in MOMENTS else ""
                    self.report(arg, sentence("expr_operand_type", operator="-" if node.op == "neg" else node.op,
                                              expected=_type_word(NUMBER), actual=_type_word(kind), advice=advice))
                    return ""
            self._settle_all(node.args, NUMBER)
            return NUMBER
        if node.op == "&":
            for arg, kind in zip(node.args, kinds):
                if kind not in (TEXT, NULL):
                    self.report(arg, sentence("expr_operand_type", operator="&", expected=_type_word(TEXT),
                                              actual=_type_word(kind), advice=sentence("expr_advice_text")))
                    return ""
            self._settle_all(node.args, TEXT)
            return TEXT
        left, right = kinds
        if NULL in kinds:
            self.report(node, sentence("expr_compare_null"))
            return ""
        if left != right:
            self.report(node, sentence("expr_compare_types", left=_type_word(left), right=_type_word(right)))
            return ""
        if node.op not in ("=", "!=") and left not in ORDERED:
            self.report(node, sentence("expr_compare_order", operator=node.op, type=_type_word(left)))
            return ""
        return BOOLEAN

    def _settle_all(self, nodes: list[Node], kind: str) -> None:
        for node in nodes:
            _settle(node, kind)

    # --- functions -------------------------------------------------------------------------------

    def call(self, node: Call) -> str:
        name = node.name
        if name not in FUNCTIONS:
            self.report(node, sentence("expr_unknown_function", name=name, hint=hint(name, FUNCTIONS)))
            for arg in node.args:
                self.visit(arg)
            return ""
        kinds = [self.visit(arg) for arg in node.args]
        count = len(kinds)
        if name in FIXED:
            wanted, result = FIXED[name]
            if count != len(wanted):
                return self.count_problem(node, sentence("expr_args_exactly", count=len(wanted)))
            if not self.arguments(node, kinds, wanted):
                return ""
            if name == "ROUND" and not self.round_digits(node):
                return ""
            return result
        if name in VARIADIC:
            accepted, least, result = VARIADIC[name]
            if count < least:
                return self.count_problem(node, sentence("expr_args_at_least", low=least))
            if not self.arguments(node, kinds, [accepted] * count):
                return ""
            if result != "same":
                return result
            return self.one_type(node, node.args, kinds)
        return getattr(self, "call_" + name.lower())(node, kinds)

    def count_problem(self, node: Call, expected: Sentence) -> str:
        self.report(node, sentence("expr_arg_count", function=node.name, expected=expected, count=len(node.args)))
        return ""

    def arguments(self, node: Call, kinds: list[str], wanted) -> bool:
        """Whether each argument has a type its place accepts (a NULL anywhere); the others reported."""
        fine = True
        for position, (arg, kind, accepted) in enumerate(zip(node.args, kinds, wanted), start=1):
            if kind == "":
                fine = False
            elif kind == NULL:
                if len(accepted) == 1:
                    _settle(arg, next(iter(accepted)))
            elif kind not in accepted:
                self.report(arg, sentence("expr_arg_type", position=position, function=node.name,
                                          expected=_types_word(accepted), actual=_type_word(kind)))
                fine = False
        return fine

    def one_type(self, node: Call, results: list[Node], kinds: list[str]) -> str:
        """The one type of ``results`` (NULLs take it); "" and a problem when they differ."""
        if "" in kinds:
            return ""
        known = [k for k in kinds if k != NULL]
        for kind in known[1:]:
            if kind != known[0]:
                self.report(node, sentence("expr_same_type", function=node.name, first=_type_word(known[0]),
                                           second=_type_word(kind)))
                return ""
        if not known:
            return NULL
        self._settle_all(results, known[0])
        return known[0]

    def round_digits(self, node: Call) -> bool:
        digits = node.args[1]
        value = None
        if isinstance(digits, Literal) and digits.type == NUMBER:
            value = digits.value
        elif isinstance(digits, Op) and digits.op == "neg" and isinstance(digits.args[0], Literal) and digits.args[0].type == NUMBER:
            value = -digits.args[0].value
        low, high = ROUND_DIGITS
        if value is None or value != value.to_integral_value() or not low <= value <= high:
            self.report(digits, sentence("expr_round_digits", low=low, high=high))
            return False
        return True

    def call_if(self, node: Call, kinds: list[str]) -> str:
        if len(kinds) not in (2, 3):
            return self.count_problem(node, sentence("expr_args_between", low=2, high=3))
        if not self.arguments(node, kinds[:1], [frozenset({BOOLEAN})]):
            return ""
        return self.one_type(node, node.args[1:], kinds[1:])

    def call_case(self, node: Call, kinds: list[str]) -> str:
        if len(kinds) < 4 or len(kinds) % 2:
            return self.count_problem(node, sentence("expr_args_case"))
        if "" in kinds:
            return ""
        subject = kinds[0]
        matches = [(arg, kind) for i, (arg, kind) in enumerate(zip(node.args, kinds)) if i % 2 == 1 and i < len(kinds) - 1]
        for arg, kind in matches:
            if kind == NULL:
                self.report(arg, sentence("expr_compare_null"))
                return ""
            if subject == NULL:
                subject = kind
            elif kind != subject:
                self.report(arg, sentence("expr_compare_types", left=_type_word(subject), right=_type_word(kind)))
                return ""
        _settle(node.args[0], subject)
        results = _results(node)
        return self.one_type(node, results, [r.type for r in results])

    def call_blankvalue(self, node: Call, kinds: list[str]) -> str:
        if len(kinds) != 2:
            return self.count_problem(node, sentence("expr_args_exactly", count=2))
        return self.one_type(node, node.args, kinds)

    def call_add_days(self, node: Call, kinds: list[str]) -> str:
        if len(kinds) != 2:
            return self.count_problem(node, sentence("expr_args_exactly", count=2))
        if not self.arguments(node, kinds, [MOMENTS, frozenset({NUMBER})]):
            return ""
        if kinds[0] == NULL:
            _settle(node.args[0], DATE)
            return DATE
        return kinds[0]

    def call_ispickval(self, node: Call, kinds: list[str]) -> str:
        if len(kinds) != 2:
            return self.count_problem(node, sentence("expr_args_exactly", count=2))
        if "" in kinds:
            return ""
        field_node, value = node.args
        if not isinstance(field_node, Ref) or not field_node.fields[-1].type.single_choice:
            described = field_node.fields[-1].type.name if isinstance(field_node, Ref) else _type_word(kinds[0])
            named = ".".join(field_node.names) if isinstance(field_node, Ref) else "?"
            self.report(field_node, sentence("expr_not_picklist", name=named, type=described))
            return ""
        if not isinstance(value, Literal) or not isinstance(value.value, str):
            self.report(value, sentence("expr_pickval_literal"))
            return ""
        fdef = field_node.fields[-1]
        values = [v["value"] for v in fdef.spec.get("values", []) if not v.get("removed")]
        if value.value not in values:
            self.report(value, sentence("expr_not_a_value", value=value.value, field=".".join(field_node.names),
                                        values=", ".join(values), hint=hint(value.value, values)))
            return ""
        return BOOLEAN
