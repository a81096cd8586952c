"""Icons from the vendored Lucide sprite: ``icon("building-2")`` in a template draws one.

One cached file holds every Lucide icon, so an implementer can give an object any of them by name.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from markupsafe import Markup

SPRITE = "/static/tessera/vendor/lucide-1.87.0-sprite.svg"
SPRITE_FILE = Path(__file__).resolve().parent / "static" / "vendor" / "lucide-1.87.0-sprite.svg"


@lru_cache(maxsize=512)  # a page draws the same few dozen, on every request
def icon(name: str) -> Markup:
    """An icon beside words that say the same: hidden from screen readers, sized and coloured by the stylesheet."""
    return Markup('<svg class="icon" aria-hidden="true" focusable="false"><use href="{}#{}"></use></svg>').format(SPRITE, name)
