"""Who is acting on records."""

from __future__ import annotations

from dataclasses import dataclass


from core.permissions import ACTOR_ID


@dataclass(frozen=True)
class Actor:
    """Who is acting.

    ``permission_set``: the signed-in user's (from their role; "" when they have none, which
    grants nothing). None marks trusted code (the CLI, scheduled jobs, plugin code acting as
    the system), which core/permissions.py does not restrict.
    """

    user_id: int | None
    name: str
    permission_set: str | None = None

    @classmethod
    def system(cls) -> "Actor":
        return cls(None, "system")

    @property
    def params(self) -> dict:
        """The bound parameters permission conditions read."""
        return {ACTOR_ID: self.user_id}
