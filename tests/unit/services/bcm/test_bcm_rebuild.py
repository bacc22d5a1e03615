"""Rebuild requests and the worker over fakes: de-dup, no-change, new versions, failures that keep serving."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from lib import ops_events
from lib.errors import NotFound, ServiceUnavailable
from lib.services.bcm.finalize import finalize_session
from lib.services.bcm.reads import manifest_view
from lib.services.bcm.rebuild import STUCK_AFTER_S, request_rebuild, run_rebuild, task_name
from tests.unit.services.bcm.bcm_support import BcmRig


@pytest.fixture
def rig() -> BcmRig:
    r = BcmRig()
    finalize_session(r.completed_session(), r.mine, deps=r.deps)
    return r


def _edit_context(rig: BcmRig, **company: str) -> None:
    """Change the stored business_context (as a future 'edit' would) so a rebuild has something new."""
    context = rig.repo.latest_context(rig.workspace)
    assert context is not None
    document = {**context.document, "company_profile": {**context.document["company_profile"], **company}}
    rig.repo.contexts[context.id] = replace(context, document=document, checksum="b" * 64)


def test_request_records_a_job_and_enqueues_a_named_task(rig: BcmRig) -> None:
    job = request_rebuild(rig.workspace, reason="new pricing", requested_by=None, deps=rig.deps)
    assert job["status"] == "queued"
    [task] = rig.tasks.tasks
    assert task.name == task_name(job["job_id"])
    assert task.url == "http://functions.test/bcm_rebuild/"
    assert task.queue == "bcm-rebuild"
    assert task.payload == {"job_id": job["job_id"], "workspace_id": rig.workspace}
    assert rig.repo.jobs[job["job_id"]].reason == "new pricing"


def test_a_second_request_while_queued_returns_the_same_job(rig: BcmRig) -> None:
    first = request_rebuild(rig.workspace, reason=None, requested_by=None, deps=rig.deps)
    again = request_rebuild(rig.workspace, reason=None, requested_by=None, deps=rig.deps)
    assert again == first
    assert len(rig.tasks.tasks) == 1


def test_a_stuck_queued_job_is_replaced(rig: BcmRig) -> None:
    first = request_rebuild(rig.workspace, reason=None, requested_by=None, deps=rig.deps)
    rig.clock.advance(STUCK_AFTER_S + 1)
    again = request_rebuild(rig.workspace, reason=None, requested_by=None, deps=rig.deps)
    assert again["job_id"] != first["job_id"]
    assert rig.repo.jobs[first["job_id"]].status == "failed"


def test_request_without_a_context_is_404() -> None:
    rig = BcmRig()
    with pytest.raises(NotFound):
        request_rebuild(rig.workspace, reason=None, requested_by=None, deps=rig.deps)


def test_queue_down_is_503_and_the_job_is_closed(rig: BcmRig) -> None:
    rig.tasks.down = True
    with pytest.raises(ServiceUnavailable):
        request_rebuild(rig.workspace, reason=None, requested_by=None, deps=rig.deps)
    [job] = rig.repo.jobs.values()
    assert job.status == "failed"
    rig.tasks.down = False
    assert request_rebuild(rig.workspace, reason=None, requested_by=None, deps=rig.deps)["status"] == "queued"


def test_a_rebuild_that_changes_nothing_creates_no_version(rig: BcmRig) -> None:
    job = request_rebuild(rig.workspace, reason=None, requested_by=None, deps=rig.deps)
    outcome = run_rebuild(job["job_id"], attempt=0, deps=rig.deps)
    assert (outcome.status, outcome.version, outcome.retry) == ("skipped", "1.0.0", False)
    assert [m.version for m in rig.repo.manifests] == ["1.0.0"]
    assert rig.repo.jobs[job["job_id"]].status == "skipped"


def test_a_rebuild_with_new_content_writes_the_next_version_and_serves_it(rig: BcmRig) -> None:
    _edit_context(rig, description="We now also serve Indian exporters with GST refund tracking.")
    job = request_rebuild(rig.workspace, reason=None, requested_by=None, deps=rig.deps)
    outcome = run_rebuild(job["job_id"], attempt=0, deps=rig.deps)
    assert outcome.status == "succeeded"
    assert outcome.version == "1.0.1"  # the mission text changed: a patch
    assert rig.repo.manifests[-1].source == "rebuild"
    view = manifest_view(rig.workspace, deps=rig.deps)
    assert view["version"] == "1.0.1"
    assert view["rebuild"] == {"job_id": job["job_id"], "status": "succeeded"}
    other = rig.new_cache()  # another warm instance sees the new version through the pointer
    served = other.read(rig.workspace, lambda: None)
    assert served is not None
    assert served.manifest.version == "1.0.1"


def test_a_renamed_company_is_a_major_version(rig: BcmRig) -> None:
    _edit_context(rig, name="Hisaab Technologies")
    job = request_rebuild(rig.workspace, reason=None, requested_by=None, deps=rig.deps)
    assert run_rebuild(job["job_id"], attempt=0, deps=rig.deps).version == "2.0.0"


def test_a_failing_rebuild_retries_then_fails_and_the_old_version_keeps_serving(
    rig: BcmRig, caplog: pytest.LogCaptureFixture
) -> None:
    _edit_context(rig, description="Something new entirely, which would be a patch.")
    job = request_rebuild(rig.workspace, reason=None, requested_by=None, deps=rig.deps)
    rig.fail_reduce = RuntimeError("reducer exploded")
    with caplog.at_level(logging.INFO):
        first = run_rebuild(job["job_id"], attempt=0, deps=rig.deps)
    assert first.retry
    assert not [r for r in caplog.records if getattr(r, "event", None) == ops_events.BCM_REBUILD_FAILED]
    assert rig.repo.jobs[job["job_id"]].status == "running"
    assert manifest_view(rig.workspace, deps=rig.deps)["freshness"]["stale"] is True  # a rebuild is pending
    with caplog.at_level(logging.INFO):
        last = run_rebuild(job["job_id"], attempt=rig.deps.config.rebuild_max_attempts - 1, deps=rig.deps)
    assert (last.status, last.retry) == ("failed", False)
    (gave_up,) = [r for r in caplog.records if getattr(r, "event", None) == ops_events.BCM_REBUILD_FAILED]
    assert gave_up.job_id == job["job_id"]  # type: ignore[attr-defined]
    stored = rig.repo.jobs[job["job_id"]]
    assert stored.status == "failed"
    assert stored.error == "reducer exploded"
    view = manifest_view(rig.workspace, deps=rig.deps)
    assert view["version"] == "1.0.0"
    assert view["rebuild"] == {"job_id": job["job_id"], "status": "failed"}
    assert [m.version for m in rig.repo.manifests] == ["1.0.0"]


def test_a_failure_after_the_origin_is_down_keeps_serving_from_cache(rig: BcmRig) -> None:
    job = request_rebuild(rig.workspace, reason=None, requested_by=None, deps=rig.deps)
    manifest_view(rig.workspace, deps=rig.deps)
    rig.repo.down = True
    view = manifest_view(rig.workspace, deps=rig.deps)
    assert (view["version"], view["served_from"]) == ("1.0.0", "tier0")
    rig.repo.down = False
    assert run_rebuild(job["job_id"], attempt=0, deps=rig.deps).status == "skipped"


def test_duplicate_deliveries_and_unknown_jobs_are_acknowledged(rig: BcmRig) -> None:
    job = request_rebuild(rig.workspace, reason=None, requested_by=None, deps=rig.deps)
    run_rebuild(job["job_id"], attempt=0, deps=rig.deps)
    again = run_rebuild(job["job_id"], attempt=1, deps=rig.deps)
    assert (again.status, again.retry) == ("skipped", False)
    assert run_rebuild("00000000-0000-0000-0000-000000000000", attempt=0, deps=rig.deps).status == "unknown"
    assert run_rebuild("garbage", attempt=0, deps=rig.deps).status == "unknown"
