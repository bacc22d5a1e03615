"""The cache tiers over fakes: the tier matrix, promotion, the pointer, outages, TTLs and invalidation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lib.domain.bcm import VersionChange
from lib.domain.bcm.records import NewManifest, StoredManifest
from lib.services.bcm.tiers import (
    COLLECTION,
    MEMORY_TTL_S,
    ManifestCache,
    entry_key,
    pointer_key,
)
from lib.testing.fake_bcm import FakeBcmRepo
from lib.testing.fakes import FakeDocuments, FakeKeyValue, ManualClock
from tests.unit.services.bcm.bcm_support import Monotonic

WS = "11111111-1111-1111-1111-111111111111"
CHECKSUM = "a" * 64


class Tiers:
    def __init__(self) -> None:
        self.clock = ManualClock(datetime(2025, 1, 1, tzinfo=UTC))
        self.mono = Monotonic()
        self.kv = FakeKeyValue(self.clock)
        self.docs = FakeDocuments()
        self.repo = FakeBcmRepo(self.clock)
        self.origin_reads = 0
        self.cache = self.instance()

    def instance(self) -> ManifestCache:
        return ManifestCache(self.kv, self.docs, self.clock, breaker_s=0.0, monotonic=self.mono)

    def store(self, version: str, company: str = "Acme") -> StoredManifest:
        change = VersionChange(version, "initial" if version == "1.0.0" else "patch")
        manifest = {"foundation": {"company": company}, "meta": {"schema_version": "1.0"}}
        return self.repo.add_version(WS, NewManifest(change, CHECKSUM, 42, manifest, "onboarding"), context_id=None)

    def origin(self) -> StoredManifest | None:
        self.origin_reads += 1
        return self.repo.current(WS)

    def read(self, cache: ManifestCache | None = None) -> tuple[str, str]:
        served = (cache or self.cache).read(WS, self.origin)
        assert served is not None
        return served.served_from, served.manifest.version


@pytest.fixture
def t() -> Tiers:
    return Tiers()


def test_read_through_fills_every_tier_then_serves_from_memory(t: Tiers) -> None:
    t.store("1.0.0")
    assert t.read() == ("origin", "1.0.0")
    assert t.kv.get(pointer_key(WS)) == b"1.0.0"
    assert t.kv.get(entry_key(WS, "1.0.0")) is not None
    assert t.docs.get(COLLECTION, WS) is not None
    assert t.read() == ("tier0", "1.0.0")
    assert t.origin_reads == 1


@pytest.mark.parametrize(
    ("empty", "expected"),
    [
        ("tier0", "tier1"),  # a new instance: memory empty, Redis has it
        ("tier0+tier1", "tier2"),  # Redis flushed: Firestore has it
        ("tier0+tier1+tier2", "origin"),  # every cache empty
    ],
)
def test_each_tier_empty_is_served_from_the_next(t: Tiers, empty: str, expected: str) -> None:
    t.store("1.0.0")
    t.read()  # fill everything
    if "tier1" in empty:
        t.kv.delete(pointer_key(WS), entry_key(WS, "1.0.0"))
    if "tier2" in empty:
        t.docs.delete(COLLECTION, WS)
    assert t.read(t.instance()) == (expected, "1.0.0")


def test_redis_down_serves_from_firestore_then_origin(t: Tiers) -> None:
    t.store("1.0.0")
    t.read()
    t.kv.down = True
    assert t.read(t.instance()) == ("tier2", "1.0.0")
    t.docs.delete(COLLECTION, WS)
    assert t.read(t.instance()) == ("origin", "1.0.0")


def test_firestore_down_serves_from_redis_or_origin(t: Tiers) -> None:
    t.store("1.0.0")
    t.read()
    t.docs.down = True
    assert t.read(t.instance()) == ("tier1", "1.0.0")
    t.kv.delete(pointer_key(WS))
    assert t.read(t.instance()) == ("origin", "1.0.0")


def test_both_caches_down_still_serves_from_origin(t: Tiers) -> None:
    t.store("1.0.0")
    t.kv.down = t.docs.down = True
    assert t.read() == ("origin", "1.0.0")


def test_no_manifest_anywhere_is_none(t: Tiers) -> None:
    assert t.cache.read(WS, t.origin) is None


def test_a_new_pointer_beats_another_instance_memory(t: Tiers) -> None:
    t.store("1.0.0")
    other = t.instance()
    assert t.read(other)[1] == "1.0.0"
    assert t.read(other) == ("tier0", "1.0.0")
    t.cache.fill(t.store("1.0.1", company="Acme Inc"))  # a rebuild on this instance moves the pointer
    assert t.read(other) == ("tier1", "1.0.1")  # the other instance sees it on its next read


def test_memory_lives_at_most_an_hour(t: Tiers) -> None:
    t.store("1.0.0")
    t.read()
    t.mono.t += MEMORY_TTL_S + 1
    assert t.read() == ("tier1", "1.0.0")


def test_firestore_copy_older_than_the_pointer_is_skipped(t: Tiers) -> None:
    t.store("1.0.0")
    t.read()
    t.store("1.0.1")
    t.kv.set(pointer_key(WS), b"1.0.1")  # pointer moved, entry and Firestore not (yet)
    assert t.read(t.instance()) == ("origin", "1.0.1")


def test_expired_firestore_copy_is_a_miss(t: Tiers) -> None:
    t.store("1.0.0")
    t.read()
    t.kv.delete(pointer_key(WS))
    t.clock.advance(8 * 24 * 3600)  # past the 7-day TTL; Firestore has not deleted it yet
    assert t.read(t.instance()) == ("origin", "1.0.0")


def test_invalidate_clears_every_tier(t: Tiers) -> None:
    t.store("1.0.0")
    t.read()
    t.cache.invalidate(WS, ["1.0.0"])
    assert t.kv.get(pointer_key(WS)) is None
    assert t.kv.get(entry_key(WS, "1.0.0")) is None
    assert t.docs.get(COLLECTION, WS) is None
    assert t.read() == ("origin", "1.0.0")


def test_a_failed_tier_is_skipped_while_its_breaker_is_open(t: Tiers) -> None:
    cache = ManifestCache(t.kv, t.docs, t.clock, breaker_s=5.0, monotonic=t.mono)
    t.store("1.0.0")
    cache.read(WS, t.origin)
    t.kv.down = True
    assert t.read(cache)[0] == "tier2"
    t.kv.down = False
    assert t.read(cache)[0] == "tier2"  # Redis still skipped: no timeout per request
    t.mono.t += 6
    assert t.read(cache)[0] == "tier0"  # breaker closed, pointer read again, memory valid


def test_served_bytes_equal_the_origin_bytes(t: Tiers) -> None:
    stored = t.store("1.0.0")
    t.read()
    for cache in (t.cache, t.instance()):
        served = cache.read(WS, t.origin)
        assert served is not None
        assert served.manifest.manifest == stored.manifest
        assert served.manifest.checksum == stored.checksum
