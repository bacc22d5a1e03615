"""Workspace membership: may this user act on that workspace?

Checked on every workspace-scoped call, so positive answers are cached in
process memory for a short TTL and the hot path reads no database.  Negative
answers are not cached: a user just added to a workspace gets in at once.
A non-member, an unknown workspace and a malformed id all answer the same
404, so the response never reveals that another tenant's workspace exists.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from lib.domain.ids import canonical_uuid
from lib.errors import NotFound
from lib.ports import Database

# A removed member keeps access at most this long on a warm instance.
MEMBERSHIP_CACHE_TTL_S = 60.0
# Bounds memory on a long-lived instance; least recently stored entries go first.
MEMBERSHIP_CACHE_MAX = 10_000


def _not_found() -> NotFound:
    return NotFound("No such workspace.", code="workspace_not_found")


class _TtlCache:
    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float]) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._data: OrderedDict[tuple[str, ...], tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> str | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            expires, value = hit
            if expires <= self._clock():
                del self._data[key]
                return None
            return value

    def put(self, key: tuple[str, ...], value: str) -> None:
        with self._lock:
            self._data[key] = (self._clock() + self._ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class MembershipResolver:
    """Answers membership and default-workspace questions from ``workspace_members``."""

    def __init__(
        self,
        db: Database,
        *,
        ttl_s: float = MEMBERSHIP_CACHE_TTL_S,
        max_entries: int = MEMBERSHIP_CACHE_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._cache = _TtlCache(ttl_s, max_entries, clock)

    def is_member(self, user_id: str, workspace_id: str) -> bool:
        user, workspace = canonical_uuid(user_id), canonical_uuid(workspace_id)
        if user is None or workspace is None:
            return False
        if self._cache.get(("member", user, workspace)) is not None:
            return True
        with self._db.connection() as conn:
            row = conn.execute(
                "select 1 from public.workspace_members where workspace_id = %s and user_id = %s",
                (workspace, user),
            ).fetchone()
        if row is None:
            return False
        self._cache.put(("member", user, workspace), workspace)
        return True

    def default_workspace(self, user_id: str) -> str | None:
        """The first workspace the user owns; failing that, the first they joined."""
        user = canonical_uuid(user_id)
        if user is None:
            return None
        cached = self._cache.get(("default", user))
        if cached is not None:
            return cached
        with self._db.connection() as conn:
            row = conn.execute(
                "select workspace_id from public.workspace_members where user_id = %s"
                " order by (role = 'owner') desc, created_at, workspace_id limit 1",
                (user,),
            ).fetchone()
        if row is None:
            return None
        workspace = str(row["workspace_id"])
        self._cache.put(("default", user), workspace)
        self._cache.put(("member", user, workspace), workspace)
        return workspace

    def resolve(self, user_id: str, requested: str | None) -> str:
        """The workspace to act on, or 404 ``workspace_not_found``."""
        if requested is None or requested == "":
            workspace = self.default_workspace(user_id)
            if workspace is None:
                raise _not_found()
            return workspace
        workspace = canonical_uuid(requested)
        if workspace is None or not self.is_member(user_id, workspace):
            raise _not_found()
        return workspace

    def forget(self) -> None:
        """Drop every cached answer (after a membership change made by this instance)."""
        self._cache.clear()
