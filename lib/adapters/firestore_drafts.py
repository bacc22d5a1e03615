"""Durable onboarding drafts on Firestore (``DraftStore``), over the ``Documents`` port.

One document per session in ``onboarding_drafts`` (id = session id).  The
service works with ISO-8601 strings; here ``expires_at`` becomes a real
timestamp on the way in (Firestore's TTL policy only acts on timestamp
fields) and an ISO string again on the way out, so a document read back from
Firestore equals the one read from the cache.

A save is one ``update`` RPC with an ``update_time`` precondition
(``update_unchanged``): the new document is computed here from the one the
caller read at that version, which the precondition guarantees is still the
stored one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lib.adapters.dotted import apply_updates
from lib.ports import Documents

COLLECTION = "onboarding_drafts"
TTL_FIELD = "expires_at"  # the field Firestore's TTL policy is configured on


def _to_store(values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    stamp = out.get(TTL_FIELD)
    if isinstance(stamp, str):
        out[TTL_FIELD] = datetime.fromisoformat(stamp).astimezone(UTC)
    return out


def _from_store(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    stamp = out.get(TTL_FIELD)
    if isinstance(stamp, datetime):
        # DatetimeWithNanoseconds subclasses datetime; microseconds are what we wrote.
        at = stamp.astimezone(UTC)
        out[TTL_FIELD] = datetime(
            at.year, at.month, at.day, at.hour, at.minute, at.second, at.microsecond, tzinfo=UTC
        ).isoformat(timespec="microseconds")
    return out


class FirestoreDrafts:
    def __init__(self, documents: Documents, *, collection: str = COLLECTION) -> None:
        self._docs = documents
        self._collection = collection

    def create(self, session_id: str, doc: Mapping[str, Any]) -> None:
        self._docs.create(self._collection, session_id, _to_store(doc))

    def get(self, session_id: str) -> dict[str, Any] | None:
        doc = self._docs.get(self._collection, session_id)
        return None if doc is None else _from_store(doc)

    def get_versioned(self, session_id: str) -> tuple[dict[str, Any], str] | None:
        found = self._docs.get_with_version(self._collection, session_id)
        return None if found is None else (_from_store(found[0]), found[1])

    def update(self, session_id: str, updates: Mapping[str, Any], *, expect: Mapping[str, Any]) -> dict[str, Any]:
        doc = self._docs.update_if(self._collection, session_id, _to_store(updates), expect=expect)
        return _from_store(doc)

    def update_unchanged(
        self, session_id: str, base: Mapping[str, Any], updates: Mapping[str, Any], *, version: str
    ) -> tuple[dict[str, Any], str]:
        new_version = self._docs.update_if_unchanged(self._collection, session_id, _to_store(updates), version=version)
        return apply_updates(base, updates), new_version
