"""The one table mapping Google client errors to ours, shared by Firestore, Storage and Cloud Tasks."""

from __future__ import annotations

import pytest
import requests
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc

from lib.adapters.google_errors import google_errors, table, translate
from lib.errors import AdapterError, AlreadyExists, Missing, Rejected, Unavailable


@pytest.mark.parametrize(
    ("vendor", "ours"),
    [
        (gexc.AlreadyExists("dup"), AlreadyExists),
        (gexc.Conflict("dup"), AlreadyExists),
        (gexc.NotFound("gone"), Missing),
        (gexc.Aborted("contention"), Unavailable),
        (gexc.FailedPrecondition("queue paused"), Unavailable),
        (gexc.ServiceUnavailable("down"), Unavailable),
        (gexc.DeadlineExceeded("slow"), Unavailable),
        (gexc.InternalServerError("oops"), Unavailable),
        (gexc.TooManyRequests("429"), Unavailable),
        (gexc.ResourceExhausted("quota"), Unavailable),
        (gexc.BadGateway("502"), Unavailable),
        (gexc.GatewayTimeout("504"), Unavailable),
        (gexc.Unknown("?"), Unavailable),
        (gexc.Cancelled("cancelled"), Unavailable),
        (gexc.RetryError("gave up", cause=gexc.ServiceUnavailable("down")), Unavailable),
        (gexc.PermissionDenied("no"), Rejected),
        (gexc.BadRequest("bad"), Rejected),
        (requests.ConnectionError("refused"), Unavailable),
        (requests.Timeout("slow"), Unavailable),
        (auth_exc.TransportError("metadata unreachable"), Unavailable),
        (auth_exc.RefreshError("revoked"), Rejected),
        (auth_exc.DefaultCredentialsError("none"), Rejected),
    ],
)
def test_each_google_error_becomes_what_the_caller_acts_on(vendor: Exception, ours: type[AdapterError]) -> None:
    error = translate(vendor, "svc")
    assert type(error) is ours
    assert error is not None
    assert error.service == "svc"
    with pytest.raises(ours) as raised, google_errors("svc"):
        raise vendor
    assert raised.value.__cause__ is vendor


def test_subclasses_come_before_their_bases() -> None:
    rows = [types for types, _, _ in table()]
    for i, earlier in enumerate(rows):
        for later in rows[i + 1 :]:
            for base in earlier:
                assert not any(issubclass(sub, base) and sub is not base for sub in later), (base, later)


def test_anything_else_passes_through_untouched() -> None:
    assert translate(KeyError("bug"), "svc") is None
    with pytest.raises(KeyError), google_errors("svc"):
        raise KeyError("bug")


def test_our_own_errors_pass_through() -> None:
    ours = Missing("gone", "firestore")
    with pytest.raises(Missing) as raised, google_errors("svc"):
        raise ours
    assert raised.value is ours
