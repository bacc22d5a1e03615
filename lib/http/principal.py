"""Who is calling: what the token verifiers produce and every handler reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Principal:
    """The verified caller: a Supabase user, or a Google service account for internal calls."""

    user_id: str
    email: str | None
    role: str
    claims: dict[str, Any] = field(default_factory=dict, repr=False)
