"""Id checks shared by the HTTP layer and the services.

Ids arrive in paths, bodies and tokens; anything that is not a UUID is
answered like an unknown id (404), never passed to Postgres, where a cast
error would be a 500.  Python's ``uuid.UUID`` also accepts ``urn:uuid:``,
braces and no hyphens, which Postgres refuses: an id is parsed once, here,
and only the canonical form is passed on (there is deliberately no
``is_uuid``: checking without converting is how the raw form leaked).
"""

from __future__ import annotations

import uuid


def canonical_uuid(value: str) -> str | None:
    """The canonical (lower-case, hyphenated) form of a UUID string; ``None`` for anything else."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        return None
