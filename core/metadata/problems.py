"""Problems found in metadata, each naming its source, JSON pointer and a plain sentence."""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Iterable

from core.words import Sentence, say


@dataclass(frozen=True)
class Problem:
    source: str  # a file path, "changeset", "database", or an API call
    pointer: str  # a JSON pointer into that document, "" for the whole document
    message: str  # English; a Sentence given here is kept as ``words`` and read in English
    words: Sentence | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.message, Sentence):
            object.__setattr__(self, "words", self.message)
            object.__setattr__(self, "message", str(self.message))

    def in_(self, lang: str) -> str:
        """The sentence in ``lang`` (English when it has no code)."""
        return say(self.words, lang) if self.words is not None else self.message

    def __str__(self) -> str:
        return f"{self.source}: {self.pointer or '/'}: {self.message}"

    def as_dict(self) -> dict:
        return {"source": self.source, "pointer": self.pointer, "message": self.message}


class MetadataError(Exception):
    """One or more metadata documents were refused; nothing was changed."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def pointer(*parts: object) -> str:
    """Build a JSON pointer (RFC 6901) from path parts."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "".join("/" + p for p in escaped)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    matches = get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""
