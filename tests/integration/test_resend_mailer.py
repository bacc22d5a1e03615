"""ResendMailer (the real ``resend`` SDK) against the local mail catcher over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from devtools.local.mailcatcher import MailCatcher
from lib.adapters.resend_mailer import ResendMailer
from lib.errors import Rejected, Unavailable
from lib.services.payments.ports import EmailMessage


@pytest.fixture
def catcher() -> Iterator[tuple[MailCatcher, str]]:
    mail = MailCatcher()
    server = make_server("127.0.0.1", 0, mail, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield mail, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def message(key: str = "payment-confirmed/1") -> EmailMessage:
    return EmailMessage(
        to="ada@example.com", subject="Paid", html="<p>₹999.00</p>", text="₹999.00", idempotency_key=key
    )


def test_sends_with_idempotency_key(catcher: tuple[MailCatcher, str]) -> None:
    mail, url = catcher
    mailer = ResendMailer("re_test_key", base_url=url, sender="Billing <b@example.com>")
    first = mailer.send(message())
    again = mailer.send(message())
    assert first == again
    (caught,) = mail.messages()
    assert caught.idempotency_key == "payment-confirmed/1"
    assert caught.text == "₹999.00"


def test_timeout_once_is_retried_and_sends_one(catcher: tuple[MailCatcher, str]) -> None:
    mail, url = catcher
    mail.fail_next(1, mode="timeout", seconds=1.0)
    mailer = ResendMailer("re_test_key", base_url=url, sender="b@example.com", read_timeout_s=0.3)
    mailer.send(message("payment-confirmed/2"))
    assert len(mail.messages()) == 1


def test_persistent_failure_is_unavailable_and_bad_request_rejected(catcher: tuple[MailCatcher, str]) -> None:
    mail, url = catcher
    mail.fail_next(2, mode="500")
    mailer = ResendMailer("re_test_key", base_url=url, sender="b@example.com", attempts=2)
    with pytest.raises(Unavailable):
        mailer.send(message("payment-confirmed/3"))
    bad = ResendMailer("re_test_key", base_url=url, sender="")
    with pytest.raises(Rejected):
        bad.send(message("payment-confirmed/4"))
    assert mail.messages() == []
