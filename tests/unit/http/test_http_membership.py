"""Membership answers and their cache, with a hand-written in-memory database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from lib.errors import NotFound
from lib.http.membership import MEMBERSHIP_CACHE_TTL_S, MembershipResolver

USER = "11111111-2222-4333-8444-555555555555"
WS_OWNED = "aaaaaaaa-0000-4000-8000-000000000001"
WS_JOINED = "aaaaaaaa-0000-4000-8000-000000000002"
WS_FOREIGN = "bbbbbbbb-0000-4000-8000-000000000003"


class _Result:
    def __init__(self, row: dict[str, Any] | None) -> None:
        self.row = row

    def fetchone(self) -> dict[str, Any] | None:
        return self.row


class MembersDb:
    """Answers the two membership queries from a list of (workspace, user, role) rows, in order."""

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        self.rows = rows
        self.queries = 0

    def execute(self, query: str, params: Any = None, /) -> _Result:
        self.queries += 1
        if "order by" in query:
            (user,) = params
            mine = [r for r in self.rows if r[1] == user]
            mine.sort(key=lambda r: r[2] != "owner")  # stable: owned first, then join order
            return _Result({"workspace_id": mine[0][0]} if mine else None)
        workspace, user = params
        return _Result({"?column?": 1} if any(r[0] == workspace and r[1] == user for r in self.rows) else None)

    @contextmanager
    def connection(self) -> Iterator[MembersDb]:
        yield self

    @contextmanager
    def transaction(self) -> Iterator[MembersDb]:
        yield self

    def ping(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def resolver(db: MembersDb, clock: Clock | None = None, **kw: Any) -> MembershipResolver:
    return MembershipResolver(db, clock=clock or Clock(), **kw)


def test_default_is_the_first_owned_workspace() -> None:
    db = MembersDb([(WS_JOINED, USER, "member"), (WS_OWNED, USER, "owner")])
    assert resolver(db).resolve(USER, None) == WS_OWNED


def test_default_falls_back_to_a_joined_workspace() -> None:
    db = MembersDb([(WS_JOINED, USER, "member")])
    assert resolver(db).resolve(USER, None) == WS_JOINED


def test_no_workspace_at_all_is_404() -> None:
    with pytest.raises(NotFound) as info:
        resolver(MembersDb([])).resolve(USER, None)
    assert info.value.code == "workspace_not_found"


@pytest.mark.parametrize("requested", [WS_FOREIGN, "not-a-uuid", "'; drop table users; --"])
def test_non_members_and_garbage_are_the_same_404(requested: str) -> None:
    db = MembersDb([(WS_OWNED, USER, "owner"), (WS_FOREIGN, "someone-else", "owner")])
    with pytest.raises(NotFound) as info:
        resolver(db).resolve(USER, requested)
    assert info.value.code == "workspace_not_found"


def test_garbage_ids_never_reach_the_database() -> None:
    db = MembersDb([])
    r = resolver(db)
    assert not r.is_member(USER, "nope")
    assert not r.is_member("nope", WS_OWNED)
    assert r.default_workspace("nope") is None
    assert db.queries == 0


def test_positive_answers_are_cached_for_the_ttl() -> None:
    db, clock = MembersDb([(WS_OWNED, USER, "owner")]), Clock()
    r = resolver(db, clock)
    assert r.resolve(USER, WS_OWNED.upper()) == WS_OWNED  # canonical form
    for _ in range(10):
        r.resolve(USER, WS_OWNED)
    assert db.queries == 1
    clock.t += MEMBERSHIP_CACHE_TTL_S + 1
    r.resolve(USER, WS_OWNED)
    assert db.queries == 2


def test_default_workspace_answer_also_warms_the_membership_cache() -> None:
    db = MembersDb([(WS_OWNED, USER, "owner")])
    r = resolver(db)
    r.resolve(USER, None)
    r.resolve(USER, None)
    r.resolve(USER, WS_OWNED)
    assert db.queries == 1


def test_negative_answers_are_not_cached() -> None:
    db = MembersDb([])
    r = resolver(db)
    with pytest.raises(NotFound):
        r.resolve(USER, WS_JOINED)
    db.rows.append((WS_JOINED, USER, "member"))
    assert r.resolve(USER, WS_JOINED) == WS_JOINED


def test_cache_is_bounded_and_can_be_cleared() -> None:
    rows = [(f"aaaaaaaa-0000-4000-8000-{i:012d}", USER, "member") for i in range(5)]
    db = MembersDb(rows)
    r = resolver(db, max_entries=2)
    for ws, _, _ in rows:
        r.resolve(USER, ws)
    before = db.queries
    r.resolve(USER, rows[-1][0])  # still cached
    assert db.queries == before
    r.resolve(USER, rows[0][0])  # evicted
    assert db.queries == before + 1
    r.forget()
    r.resolve(USER, rows[-1][0])
    assert db.queries == before + 2


def test_request_context_is_member_answers_yes_or_no_instead_of_404() -> None:
    """``RequestContext.is_member`` is the ``CanAccess`` check the session handlers pass to services."""
    from flask import Flask

    from lib.config import Settings
    from lib.http import HttpDeps, Principal, RequestContext
    from lib.logs import get_logger

    deps = HttpDeps(settings=Settings(app_env="test"), membership=resolver(MembersDb([(WS_OWNED, USER, "owner")])))
    with Flask(__name__).test_request_context("/") as request_ctx:
        ctx = RequestContext(request_ctx.request, "req-1", "fn", deps, None, get_logger("test"))
        ctx.principal = Principal(USER, None, "authenticated")
        assert ctx.is_member(WS_OWNED) is True
        assert ctx.is_member(WS_FOREIGN) is False
        assert ctx.is_member("not-a-uuid") is False
