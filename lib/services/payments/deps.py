"""What every payment service takes: its configuration and its ports (fakes in unit tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from lib.config import Settings
from lib.domain.receipts import Issuer
from lib.domain.subscriptions import DEFAULT_GRACE
from lib.errors import AdapterError
from lib.logs import BoundLogger, get_logger
from lib.ports import Clock, KeyValue, TaskQueue, TaskRequest
from lib.services.payments.autopay_ports import AutoPayGateway
from lib.services.payments.ports import Mailer, PaymentGateway, PaymentsRepo, PaymentsUnit, ReceiptFiles
from lib.tasks import enqueue_once

# The webhook ledger's provider name for PhonePe events.
PROVIDER = "phonepe"

log = get_logger("lib.services.payments")
DEFAULT_ISSUER = Issuer("Founders BCM Private Limited", ("Bengaluru, Karnataka, India",))


@dataclass(frozen=True)
class PaymentConfig:
    functions_base_url: str
    frontend_url: str
    queue: str
    webhook_username: str
    webhook_password: str
    order_expire_s: int
    # The Cloud Tasks queue that re-runs the outbox relay when an email could not be sent at once.
    outbox_queue: str = "outbox-relay"
    # How long a paid plan stays usable after its period ends unpaid (``past_due``).
    grace: timedelta = DEFAULT_GRACE
    # Who issues the receipts (name, address lines, GSTIN or None).
    issuer: Issuer = DEFAULT_ISSUER

    @classmethod
    def from_settings(cls, s: Settings) -> PaymentConfig:
        return cls(
            functions_base_url=s.functions_base_url.rstrip("/"),
            frontend_url=s.frontend_url.rstrip("/"),
            queue=s.tasks_queue_payments,
            webhook_username=s.phonepe_webhook_username,
            webhook_password=s.phonepe_webhook_password.get_secret_value(),
            order_expire_s=s.phonepe_order_expire_s,
            outbox_queue=s.tasks_queue_outbox,
            grace=timedelta(days=s.subscription_grace_days),
            issuer=Issuer(
                s.receipt_issuer_name,
                tuple(line.strip() for line in s.receipt_issuer_address.split("|") if line.strip()),
                s.receipt_gstin,
            ),
        )

    @property
    def reconcile_url(self) -> str:
        return f"{self.functions_base_url}/payment_reconcile/"

    @property
    def refund_check_url(self) -> str:
        return f"{self.functions_base_url}/payment_reconcile/refund"

    @property
    def outbox_relay_url(self) -> str:
        return f"{self.functions_base_url}/maintenance/sweep-outbox"


@dataclass
class PaymentDeps:
    """Everything the payment services touch, as ports (fakes in unit tests)."""

    repo: PaymentsRepo
    # A new unit of work per call: ``with deps.unit() as uow: ...; uow.commit()``.
    unit: Callable[[], PaymentsUnit]
    gateway: PaymentGateway
    tasks: TaskQueue
    mailer: Mailer
    clock: Clock
    config: PaymentConfig
    kv: KeyValue | None = None
    log: BoundLogger = log
    # PhonePe's UPI AutoPay (the same client as ``gateway``); None where no function uses mandates.
    autopay: AutoPayGateway | None = None
    # The renderer and bucket of receipt PDFs (``receipts.ReceiptFiles``); None where no function draws them.
    receipt_files: ReceiptFiles | None = None


def schedule(deps: PaymentDeps, task: TaskRequest, failure: str, **context: str) -> bool:
    """Queue a named task once (a repeat is a no-op); False, logged, when the queue is unreachable:
    for both payment schedulers a maintenance sweep covers for a task that could not be queued."""
    try:
        enqueue_once(deps.tasks, task)
    except AdapterError as exc:
        deps.log.warning(failure, extra={**context, "error": str(exc)})
        return False
    return True
