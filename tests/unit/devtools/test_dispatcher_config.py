"""Queue retry configs of the local Cloud Tasks dispatcher (pure arithmetic)."""

from __future__ import annotations

import pytest

from devtools.local.dispatcher import (
    AI_RETRY,
    BCM_RETRY,
    OUTBOX_RETRY,
    PAYMENTS_RETRY,
    RetryConfig,
    standard_queues,
)


def test_backoff_matches_cloud_tasks_documented_example() -> None:
    # cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#RetryConfig:
    # min 10 s, max 300 s, max_doublings 3 -> 10, 20, 40, 80, 160, 240, 300, 300
    config = RetryConfig(max_attempts=9, min_backoff_s=10, max_backoff_s=300, max_doublings=3)
    assert [config.backoff_s(n) for n in range(8)] == [10, 20, 40, 80, 160, 240, 300, 300]


def test_backoff_doubles_up_to_the_cap_by_default() -> None:
    assert [AI_RETRY.backoff_s(n) for n in range(5)] == [2, 4, 8, 16, 30]
    assert [OUTBOX_RETRY.backoff_s(n) for n in range(9)] == [2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert BCM_RETRY.backoff_s(-1) == 1  # negative index reads as the first retry


@pytest.mark.parametrize(
    ("config", "attempts", "gives_up"),
    [
        (AI_RETRY, 2, False),
        (AI_RETRY, 3, True),
        (BCM_RETRY, 5, True),
        (PAYMENTS_RETRY, 19, False),
        (PAYMENTS_RETRY, 20, True),
        (RetryConfig(max_attempts=-1, min_backoff_s=1, max_backoff_s=1), 10_000, False),
    ],
)
def test_gives_up_after_max_attempts(config: RetryConfig, attempts: int, gives_up: bool) -> None:
    assert config.gives_up_after(attempts) is gives_up


def test_the_four_queues_under_their_configured_names() -> None:
    queues = standard_queues(ai="a", bcm="b", payments="p", outbox="o")
    assert queues == {"a": AI_RETRY, "b": BCM_RETRY, "p": PAYMENTS_RETRY, "o": OUTBOX_RETRY}
    assert (AI_RETRY.max_attempts, AI_RETRY.min_backoff_s, AI_RETRY.max_backoff_s) == (3, 2, 30)
    assert (BCM_RETRY.max_attempts, BCM_RETRY.min_backoff_s, BCM_RETRY.max_backoff_s) == (5, 1, 60)
    assert (PAYMENTS_RETRY.max_attempts, PAYMENTS_RETRY.min_backoff_s, PAYMENTS_RETRY.max_backoff_s) == (20, 3, 60)
    assert (OUTBOX_RETRY.max_attempts, OUTBOX_RETRY.min_backoff_s, OUTBOX_RETRY.max_backoff_s) == (10, 2, 300)
