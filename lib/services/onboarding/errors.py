"""The onboarding errors a client acts on (each a stable ``code``)."""

from __future__ import annotations

from lib.errors import AppError, Conflict, NotFound, ServiceUnavailable

# What a 503 tells the client to wait before retrying a save or an AI request.
RETRY_AFTER_S = 2


class Gone(AppError):
    """410: the session's draft was removed by its 30-day TTL; start a new session."""

    status, code, title = 410, "session_expired", "Session expired"


def session_not_found() -> NotFound:
    return NotFound("No such onboarding session.", code="session_not_found")


def session_expired() -> Gone:
    return Gone("This session's drafts expired; start a new session with POST /sessions.")


def not_active(status: str) -> Conflict:
    hint = " POST /sessions resumes it." if status == "abandoned" else ""
    return Conflict(f"The session is {status}; only an active session can change.{hint}", code="session_not_active")


def version_conflict(sent: int, current: int) -> Conflict:
    return Conflict(
        f"The step was saved since version {sent}; it is now at version {current}. Reload it and save again.",
        code="version_conflict",
        extra={"current_version": current},
    )


def drafts_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "Drafts cannot be stored right now; nothing was saved. Try again shortly.",
        code="drafts_unavailable",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def tasks_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "AI suggestions cannot be queued right now. Try again shortly.",
        code="tasks_unavailable",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
