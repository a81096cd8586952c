"""Global search: an index of every record's title and searchable fields, and the search over it.

The index (core.coretables.search_entry) holds one row per record and field, so that a
search leaves out the fields the user may not see. Its ``terms`` are the field's words,
split here the same way for the index and for a query:

* Latin (and other alphabetic) words whole, in lower case, without accents; a query word
  matches a word it begins ("acm" finds "Acme Corp");
* runs of Chinese, Japanese or Korean characters as overlapping pairs ("诸葛亮" is
  "诸葛 葛亮"), so that any fragment of two or more characters is a phrase of consecutive
  pairs; a single character matches pairs beginning with it.

SQLite keeps them under an FTS5 table (unicode61 tokenizer, splitting on the spaces put
here); PostgreSQL as a tsvector (lexemes and positions given here, verbatim) under a GIN
index, queried with a tsquery built here. The record service marks every record it
writes (``touch``); the write transaction refreshes their entries before it commits
(``flush``), so the index changes with the records, in the same transaction.

A search reads each object's matches apart and stops at CANDIDATES of them, so that a
word half the records hold costs no more than a rare one. An entry's id is its key
(``entry_key``: the object's code, the field's place, the record's id), which makes one
object's entries one range of FTS5's rowids, and on PostgreSQL the rows of a GIN index of
the object's own (partial, on that range of ids), made when the object is given its code.
Both index the first two, three and four letters of each word apart (PREFIXES), so that the
short prefixes a search box sends first are one lookup.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR

from core.coretables import search_entry, search_object, setting
from core.jsontext import text_problem
from core.list_sql import LIKE_ESCAPE, like_pattern
from core.metadata.model import FieldDef, MetadataSet, ObjectDef
from core.permissions import Access
from core.query import QueryError
from core.words import sentence

MAX_QUERY = 200  # characters
DEFAULT_LIMIT = 5  # per object
MAX_LIMIT = 50
MAX_TERMS = 500  # per field: a long text is indexed by its beginning
CHUNK = 500
DIRTY = "tessera_search_dirty"
FTS = "tessera_search_fts"
BUILT_SETTING = "search_index_built"
RECORD_BITS = 40  # an entry's key: object code, then the field's place (FIELD_BITS), then the record's id
FIELD_BITS = 10
MAX_FIELDS = 1 << FIELD_BITS  # indexed fields of one object, beyond which a field is not indexed
PREFIXES = (2, 3, 4)  # lengths of the word beginnings indexed apart (FTS5's prefix option, migration 0007)

_WORD = re.compile(r"[^\W_]+")
_CJK = re.compile(r"([\u2e80-\u2fdf\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
                  r"\U00020000-\U0003134f]+)")


# --- words -----------------------------------------------------------------------------------


def _pieces(text: str) -> Iterator[tuple[bool, str]]:
    """(is CJK, piece) for each word of the text, CJK runs apart from the letters and digits around them."""
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).lower()):
        for part in _CJK.split(word):
            if not part:
                continue
            if _CJK.fullmatch(part):
                yield True, part
            else:
                plain = "".join(c for c in unicodedata.normalize("NFD", part) if not unicodedata.combining(c))
                yield False, unicodedata.normalize("NFC", plain)


def _pairs(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def terms(text: str) -> list[str]:
    """The words a value is indexed under, in order."""
    found: list[str] = []
    for cjk, piece in _pieces(text):
        found.extend(_pairs(piece) if cjk else [piece])
        if len(found) >= MAX_TERMS:
            return found[:MAX_TERMS]
    return found


@dataclass(frozen=True)
class Part:
    """One part of a query, all of which a field must hold: a word prefix, or a phrase of CJK pairs."""

    words: tuple[str, ...]
    prefix: bool


def query_parts(text: str) -> list[Part]:
    parts = []
    for cjk, piece in _pieces(text):
        if cjk and len(piece) > 1:
            parts.append(Part(tuple(_pairs(piece)), False))
        else:
            parts.append(Part((piece,), True))
    return parts


def _fts_match(parts: list[Part]) -> str:
    """An FTS5 query; the words hold only letters and digits, so quoting them is enough."""
    return " AND ".join(f'"{" ".join(p.words)}"' + ("*" if p.prefix else "") for p in parts)


def _tsquery(parts: list[Part]) -> str:
    def one(part: Part) -> str:
        if part.prefix and len(part.words[0]) in PREFIXES:
            return f"'{_prefix_lexeme(part.words[0])}'"
        if part.prefix:
            return f"'{part.words[0]}':*"
        return "(" + " <-> ".join(f"'{w}'" for w in part.words) + ")"

    return " & ".join(one(p) for p in parts)


def _tsvector(words: list[str]) -> str:
    prefixes = {_prefix_lexeme(w[:n]) for w in words for n in PREFIXES if len(w) >= n}
    return " ".join([*(f"'{w}':{min(i, 16383)}" for i, w in enumerate(words, 1)), *(f"'{p}'" for p in sorted(prefixes))])


def _prefix_lexeme(beginning: str) -> str:
    """A word's first letters as a lexeme of their own (``^har``), as FTS5 keeps them in its prefix index: a short
    prefix is then one lexeme to look up, not every word it begins to gather."""
    return f"^{beginning}"


def entry_key(code: int, place: int, record_id: int) -> int:
    """An entry's id: one object's entries are the ids from ``entry_key(code, 0, 0)`` up to the next code's."""
    return (code << (FIELD_BITS + RECORD_BITS)) | (place << RECORD_BITS) | record_id


def _range(code: int) -> tuple[int, int]:
    return entry_key(code, 0, 0), entry_key(code + 1, 0, 0)


def object_codes(conn: Connection, names: Iterable[str] = (), assign: bool = False) -> dict[str, int]:
    """Each indexed object's code; with ``assign``, the named objects without one are given the next codes.
    Codes are never reused, so entries of an object gone can never be taken for another's."""
    codes = dict(conn.execute(select(search_object.c.name, search_object.c.code)).all())
    missing = [name for name in names if name not in codes] if assign else []
    for name in sorted(missing):
        codes[name] = max(codes.values(), default=0) + 1
        conn.execute(sa.insert(search_object).values(name=name, code=codes[name]))
        if conn.dialect.name == "postgresql":
            low, high = _range(codes[name])  # integers of ours, written into the DDL
            conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_tessera_search_o{codes[name]} ON tessera_search_entry "
                                 f"USING gin (terms) WHERE id >= {low} AND id < {high}"))
    return codes


# --- what is indexed ---------------------------------------------------------------------------


def indexed_fields(obj: ObjectDef) -> list[FieldDef]:
    """The object's title field and its searchable fields: those with a column."""
    chosen = [f for f in obj.active_fields() if f.has_column and (f.name == obj.title_field or
                                                                    (f.spec.get("searchable") and f.type.searchable))]
    return sorted(chosen, key=lambda f: f.name != obj.title_field)


def indexes_any(obj: ObjectDef, names: Iterable[str]) -> bool:
    """Whether a change of these fields changes the object's entries."""
    indexed = {f.name for f in indexed_fields(obj)}
    return any(name in indexed for name in names)


def searchable_objects(meta: MetadataSet) -> list[ObjectDef]:
    """The objects a search covers: every object of the data, not core's users, teams and roles."""
    return [obj for obj in meta.objects.values() if not obj.spec.get("system") and indexed_fields(obj)]


def indexed_signature(meta: MetadataSet | None) -> dict[str, tuple[str, ...]]:
    """Per object, the fields its entries come from: when this changes, the object is indexed again."""
    if meta is None:
        return {}
    return {obj.name: tuple(f.name for f in indexed_fields(obj)) for obj in searchable_objects(meta)}


# --- keeping the index ---------------------------------------------------------------------------


def touch(conn: Connection, object_name: str, ids: Iterable[int | None]) -> None:
    """Mark records written in this transaction: their entries are refreshed by ``flush`` before it commits."""
    conn.info.setdefault(DIRTY, {}).setdefault(object_name, set()).update(i for i in ids if i is not None)


def forget(conn: Connection) -> None:
    conn.info.pop(DIRTY, None)


def flush(conn: Connection, meta: MetadataSet, tables) -> None:
    dirty = conn.info.pop(DIRTY, None)
    if not dirty or not conn.in_transaction():
        return
    for object_name, ids in dirty.items():
        refresh(conn, meta, tables, object_name, sorted(ids))


def refresh(conn: Connection, meta: MetadataSet, tables, object_name: str, ids: list[int]) -> None:
    """Index the records again as they are stored now (a deleted record has no entries)."""
    obj = meta.objects.get(object_name)
    indexed = obj is not None and not obj.spec.get("system") and bool(indexed_fields(obj))
    code = object_codes(conn, [object_name], assign=True)[object_name] if indexed else None
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        conn.execute(sa.delete(search_entry).where(search_entry.c.object == object_name, search_entry.c.record_id.in_(chunk)))
        if indexed:
            table = tables.table(object_name)
            _write(conn, obj, code, _rows(conn, obj, table, table.c.id.in_(chunk)))


def reindex(conn: Connection, meta: MetadataSet, tables, object_name: str | None = None) -> int:
    """Build the entries of one object (or of every object) from its records; how many records were indexed."""
    if object_name is None:
        conn.execute(sa.delete(search_entry))
        objects = searchable_objects(meta)
        codes = object_codes(conn, [obj.name for obj in objects], assign=True)
        return sum(_index_all(conn, obj, codes[obj.name], tables) for obj in objects)
    conn.execute(sa.delete(search_entry).where(search_entry.c.object == object_name))
    obj = meta.objects.get(object_name)
    if obj is None or obj.spec.get("system") or not indexed_fields(obj):
        return 0
    return _index_all(conn, obj, object_codes(conn, [object_name], assign=True)[object_name], tables)


def build_once(conn: Connection, meta: MetadataSet, tables) -> bool:
    """Index every record the first time a database has the index (one made before it had records)."""
    done = conn.execute(select(setting.c.value).where(setting.c.name == BUILT_SETTING)).scalar()
    if done is not None:
        return False
    reindex(conn, meta, tables)
    conn.execute(sa.insert(setting).values(name=BUILT_SETTING, value="1"))
    return True


def follow_metadata(conn: Connection, old: MetadataSet | None, new: MetadataSet, tables: Callable[[], object]) -> list[str]:
    """After a metadata change: index again each object whose indexed fields changed; drop the entries of objects
    gone. Returns the objects indexed again. A first build (no old metadata) has nothing to follow."""
    if old is None:
        return []
    before, after = indexed_signature(old), indexed_signature(new)
    object_codes(conn, after, assign=True)  # a code before the first record is written, in the change's transaction
    for gone in set(before) - set(after):
        conn.execute(sa.delete(search_entry).where(search_entry.c.object == gone))
    changed = sorted(name for name, fields in after.items() if name in before and before[name] != fields)
    if changed:
        built = tables()
        for name in changed:
            reindex(conn, new, built, name)
    return changed


def _index_all(conn: Connection, obj: ObjectDef, code: int, tables) -> int:
    table, last, count = tables.table(obj.name), 0, 0
    while True:
        rows = _rows(conn, obj, table, table.c.id > last, limit=CHUNK * 10)
        if not rows:
            return count
        _write(conn, obj, code, rows)
        last, count = rows[-1][0], count + len(rows)


def _rows(conn: Connection, obj: ObjectDef, table: sa.Table, condition, limit: int | None = None) -> list[sa.Row]:
    fields = indexed_fields(obj)[:MAX_FIELDS]
    statement = (select(table.c.id, *[table.c[f.name] for f in fields])
                 .where(condition, table.c.deleted_at.is_(None)).order_by(table.c.id))
    return conn.execute(statement.limit(limit) if limit else statement).all()


def _write(conn: Connection, obj: ObjectDef, code: int, rows: list[sa.Row]) -> None:
    names = [f.name for f in indexed_fields(obj)[:MAX_FIELDS]]
    postgres = conn.dialect.name == "postgresql"
    entries = []
    for row in rows:
        for place, (name, value) in enumerate(zip(names, row[1:])):
            words = terms(str(value)) if value not in (None, "") else []
            if words:
                entries.append({"s_id": entry_key(code, place, row[0]), "s_object": obj.name, "s_record": row[0], "s_field": name,
                                "s_terms": _tsvector(words) if postgres else " ".join(words)})
    if not entries:
        return
    value = sa.bindparam("s_terms", type_=sa.Text)
    statement = sa.insert(search_entry).values(
        id=sa.bindparam("s_id"), object=sa.bindparam("s_object"), record_id=sa.bindparam("s_record"), field=sa.bindparam("s_field"),
        terms=sa.cast(value, TSVECTOR) if postgres else value)
    conn.execute(statement, entries)


# --- searching -------------------------------------------------------------------------------------


@dataclass
class Group:
    """The records of one object a search found, best first."""

    object: ObjectDef
    records: list[dict]
    subtitle_fields: list[FieldDef]

    def items(self, lang: str = "en") -> list[dict]:
        """The results as the API gives them: object, id, title and subtitle."""
        return [{"object": self.object.name, "id": r["id"], "title": title(self.object, r, lang),
                 "subtitle": subtitle(self.subtitle_fields, r, lang)} for r in self.records]


def parse(params: dict[str, str], meta: MetadataSet) -> tuple[str, list[str] | None, int]:
    """q, objects and limit from the query string, every problem named by its parameter (QueryError)."""
    problems = []
    q = params.get("q")
    q = None if q is None else q.strip()
    if not q:
        problems.append(("q", sentence("search_text_needed")))
    elif len(q) > MAX_QUERY:
        problems.append(("q", sentence("search_too_long", limit=MAX_QUERY)))
    for name, raw in params.items():
        problem = text_problem(raw) if raw is not None else None
        if problem:
            problems.append((name, problem))
    objects = None
    if params.get("objects"):
        objects = [name.strip() for name in params["objects"].split(",") if name.strip()]
        unknown = [name for name in objects if name not in meta.objects]
        if unknown:
            problems.append(("objects", sentence("no_such_objects", names=", ".join(repr(n) for n in unknown))))
    limit = DEFAULT_LIMIT
    if params.get("limit") is not None:
        try:
            limit = int(params["limit"])
        except ValueError:
            problems.append(("limit", sentence("not_whole", value=params["limit"])))
        else:
            if not 1 <= limit <= MAX_LIMIT:
                problems.append(("limit", sentence("between", name="limit", low=1, high=MAX_LIMIT)))
    if problems:
        raise QueryError.of(problems)
    return q, objects, limit


def search(records, actor, q: str, objects: list[str] | None = None, limit: int = DEFAULT_LIMIT,
           budget: float | None = None) -> list[Group]:
    """Up to ``limit`` records per object whose title or a searchable field matches ``q``, among the objects (all
    by default) and records the actor may read, matched only on fields they may see; objects in label order.

    Each object's statement ranks, under the actor's read scope and in the SQL of the record service's reads,
    the first CANDIDATES records its part of the index matches."""
    parts = query_parts(q)
    if not parts:
        return []
    groups = []
    with records.reading(actor, budget) as reader:
        schema = reader.schema
        access = schema.access(actor)
        postgres = reader.connection.dialect.name == "postgresql"
        codes = _codes_with_entries(reader.connection)
        params = {"tessera_exact": q.lower(), "tessera_prefix": like_pattern(q.lower(), prefix=True)}
        for obj in _covered(schema.meta, access, objects):
            places = [i for i, f in enumerate(indexed_fields(obj)[:MAX_FIELDS]) if access.visible(obj.name, f.name)]
            if not places or obj.name not in codes:
                continue
            wanted = {"tessera_search": _tsquery(parts) if postgres else _fts_match(parts), "tessera_places": places}
            rows = reader.matching(obj.name, ("search", codes[obj.name]), lambda table, code=codes[obj.name]: [table.c.id.in_(_candidates(postgres, code))],
                                   lambda table, obj=obj: _best_first(table, obj, access), {**params, **wanted}, limit)
            if rows:
                groups.append(Group(obj, rows, subtitle_fields(schema.meta, obj, access)))
    return groups


def _codes_with_entries(conn: Connection) -> dict[str, int]:
    """The codes of the objects that have entries: an object with none is not asked (a look at one index page)."""
    code, width = sa.cast(search_object.c.code, sa.BigInteger), sa.literal_column(str(1 << (FIELD_BITS + RECORD_BITS)))
    low, high = code * width, (code + 1) * width
    some = select(search_entry.c.id).where(search_entry.c.id >= low, search_entry.c.id < high).exists()
    return dict(conn.execute(select(search_object.c.name, search_object.c.code).where(some)).all())


def _candidates(postgres: bool, code: int) -> sa.Select:
    """The ids of the first CANDIDATES records of one object whose entries on the visible fields match. The object's
    range of ids is written into the statement: PostgreSQL picks the object's partial index only for constants."""
    places = sa.bindparam("tessera_places", expanding=True)
    low, high = (sa.literal_column(str(n)) for n in _range(code))
    if postgres:
        entry = search_entry.c
        hit = entry.terms.op("@@")(sa.cast(sa.bindparam("tessera_search", type_=sa.Text), TSQUERY))
        return select(entry.record_id).where(hit, entry.id >= low, entry.id < high, _place(entry.id).in_(places)).limit(CANDIDATES)
    key = sa.literal_column("rowid", sa.BigInteger)
    hit = sa.literal_column(FTS).op("MATCH")(sa.bindparam("tessera_search", type_=sa.Text))
    return (select(key.op("&")(sa.literal_column(str((1 << RECORD_BITS) - 1)))).select_from(sa.table(FTS))
            .where(hit, key >= low, key < high, _place(key).in_(places)).limit(CANDIDATES))


def _place(key) -> sa.ColumnElement:
    """The field's place in an entry's key; written as literals, PostgreSQL shifting a bigint by an integer only."""
    return key.op(">>")(sa.literal_column(str(RECORD_BITS))).op("&")(sa.literal_column(str(MAX_FIELDS - 1)))


def _covered(meta: MetadataSet, access: Access, objects: list[str] | None) -> list[ObjectDef]:
    chosen = [o for o in searchable_objects(meta) if access.can(o.name, "read") and (objects is None or o.name in objects)]
    if objects is not None:
        order = {name: i for i, name in enumerate(objects)}
        return sorted(chosen, key=lambda o: order[o.name])
    return sorted(chosen, key=lambda o: o.name)


CANDIDATES = 1000  # records of one object a search ranks at most: a broad word ranks these, not every match


def _best_first(table: sa.Table, obj: ObjectDef, access: Access) -> list:
    """A title equal to the query first, then titles beginning with it, then the rest; by title within each."""
    if not access.visible(obj.name, obj.title_field) or obj.title_field not in table.c:
        return [table.c.id.desc()]
    title = sa.func.lower(sa.cast(table.c[obj.title_field], sa.Text))
    rank = sa.case((title == sa.bindparam("tessera_exact", type_=sa.Text), 0),
                   (title.like(sa.bindparam("tessera_prefix", type_=sa.Text), escape=LIKE_ESCAPE), 1), else_=2)
    return [rank, table.c[obj.title_field], table.c.id]


# --- how a result is shown ---------------------------------------------------------------------------

SUBTITLE_FIELDS = 2


def subtitle_fields(meta: MetadataSet, obj: ObjectDef, access: Access) -> list[FieldDef]:
    """What tells records of the object apart beside their titles: from the columns of its list layout (else its
    searchable fields), the title and owner left out, lookups first (a contact's account), then picklists and
    searchable text in the layout's order; two of them, and only fields the actor may see."""
    names = meta.layout(obj.name, "list").columns or [f.name for f in indexed_fields(obj)]
    fields = [obj.fields[n] for n in names if n in obj.fields and n not in (obj.title_field, "owner")
              and not obj.fields[n].removed and access.visible(obj.name, n)]
    useful = [f for f in fields if f.type.single_link or f.type.single_choice or (f.spec.get("searchable") and f.type.searchable)]
    useful.sort(key=lambda f: not f.type.single_link)
    return useful[:SUBTITLE_FIELDS]


def shown(fdef: FieldDef, value, lang: str = "en") -> str:
    """A value as a few words of a subtitle."""
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, dict):
        return "" if value.get("label") is None else str(value["label"])
    if fdef.type.single_choice:
        for option in fdef.spec.get("values", []):
            if option["value"] == value:
                labels = option.get("label") or {}
                return labels.get(lang) or labels.get("en") or str(value)
    return str(value)


def title(obj: ObjectDef, record: dict, lang: str = "en") -> str:
    value = record.get(obj.title_field)
    if value not in (None, ""):
        return str(value)
    labels = obj.spec.get("label") or {}
    return f"{labels.get(lang) or labels.get('en') or obj.name} #{record['id']}"


def subtitle(fields: list[FieldDef], record: dict, lang: str = "en") -> str:
    return " · ".join(text for text in (shown(f, record.get(f.name), lang) for f in fields) if text)
