"""The composition root: the one place that builds adapters from Settings.

Everything is built lazily on first use and then reused by the warm instance
(cold starts are paid per instance, and a payments function must never import
Firestore or google-genai).  Adapter modules are imported inside the
properties for that reason.  Tests build a ``Container`` with their own
settings, or replace attributes with fakes from ``lib.testing``.

Each function's ``main.py`` hands its ``Router`` one of the wiring factories
at the end of this module (``Router("finalize", wiring=bootstrap.bcm)``): the
HTTP layer's deps plus the typed deps its handlers read as ``ctx.app``.
Dependencies point inwards: ``lib.http`` and the services never import this
module.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from pydantic import SecretStr

from lib.clock import SystemClock
from lib.config import Settings, TasksMode, get_settings
from lib.http.deps import HttpDeps, Wiring

if TYPE_CHECKING:
    from lib.adapters.phonepe import PhonePeClient
    from lib.ports import Blobs, Clock, Database, Documents, KeyValue, TaskQueue
    from lib.services.bcm.deps import BcmDeps
    from lib.services.bcm.tiers import ManifestCache
    from lib.services.entitlements.gate import Entitlements
    from lib.services.onboarding.deps import OnboardingDeps
    from lib.services.onboarding_ai import SuggestionDeps, SuggestionModel
    from lib.services.payments.autopay_ports import AutoPayGateway
    from lib.services.payments.deps import PaymentDeps
    from lib.services.payments.ports import Mailer, PaymentGateway, PaymentsRepo


T = TypeVar("T")


class built_once(Generic[T]):
    """``functools.cached_property`` that builds under the container's lock.

    Cloud Functions serve concurrent requests on threads of one process
    (``max_instance_request_concurrency`` > 1, gunicorn's gthread worker).
    Python 3.12 dropped cached_property's lock, so two first requests could
    each build a connection pool and leak one.  The lock is re-entrant because
    properties build each other (``payment_deps`` needs ``db``).  Like
    cached_property it is a non-data descriptor: assigning the attribute (a
    test installing a fake) replaces the built value.
    """

    def __init__(self, build: Callable[[Any], T]) -> None:
        self.build = build
        self.name = build.__name__
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> built_once[T]: ...
    @overload
    def __get__(self, instance: Container, owner: type | None = None) -> T: ...
    def __get__(self, instance: Container | None, owner: type | None = None) -> T | built_once[T]:
        if instance is None:
            return self
        built = instance.__dict__
        if self.name not in built:
            with instance._build_lock:
                if self.name not in built:
                    built[self.name] = self.build(instance)
        return built[self.name]  # type: ignore[no-any-return]


class Container:
    """Adapters for one function instance, built on first use (thread-safe, once each)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._build_lock = threading.RLock()

    @built_once
    def clock(self) -> Clock:
        """The one clock every service reads."""
        return SystemClock()

    @built_once
    def entitlements(self) -> Entitlements:
        from lib.adapters.postgres_entitlements import PostgresEntitlements
        from lib.services.entitlements.gate import Entitlements

        grace = timedelta(days=self.settings.subscription_grace_days)
        return Entitlements(PostgresEntitlements(self.db), self.clock, grace=grace)

    @built_once
    def db(self) -> Database:
        from lib.adapters.postgres import PostgresDatabase

        s = self.settings
        return PostgresDatabase(
            s.database_url.get_secret_value(),
            min_size=s.db_pool_min,
            max_size=s.db_pool_max,
            statement_timeout_ms=s.db_statement_timeout_ms,
            connect_timeout_s=s.db_connect_timeout_s,
        )

    @built_once
    def kv(self) -> KeyValue:
        from lib.adapters.redis import RedisKeyValue

        s = self.settings
        return RedisKeyValue.from_url(
            s.redis_url.get_secret_value(),
            timeout_ms=s.redis_timeout_ms,
            ca_pem=s.redis_ca_pem,
            max_connections=s.redis_pool_max,
        )

    @built_once
    def documents(self) -> Documents:
        from lib.adapters.firestore import FirestoreDocuments

        s = self.settings
        return FirestoreDocuments(
            s.gcp_project,
            s.firestore_database,
            emulator_host=s.firestore_emulator_host,
            timeout_s=s.firestore_timeout_s,
            retry_budget_s=s.firestore_retry_budget_s,
            transaction_timeout_s=s.firestore_transaction_timeout_s,
        )

    @built_once
    def blobs(self) -> Blobs:
        from lib.adapters.storage import GcsBlobs

        s = self.settings
        return GcsBlobs(
            s.gcp_project, emulator_host=s.storage_emulator_host, signing_service_account=s.signing_service_account
        )

    @built_once
    def tasks(self) -> TaskQueue:
        s = self.settings
        if s.tasks_mode is TasksMode.CLOUD:
            from lib.adapters.cloud_tasks import CloudTasksQueue

            return CloudTasksQueue(s.gcp_project, s.gcp_region, invoker_email=s.tasks_invoker_email)
        from lib.adapters.local_tasks import LocalTasksClient

        # Tokens are minted for the target function's URL (task_names.function_audience).
        return LocalTasksClient(s.tasks_local_url)

    @built_once
    def http(self) -> HttpDeps:
        """The HTTP layer's deps; building them also configures JSON logging and the secrets it scrubs,
        since this runs on the first request of every function."""
        from lib.http.auth import SupabaseJwtVerifier
        from lib.http.idempotency import PostgresIdempotencyStore
        from lib.http.membership import MembershipResolver
        from lib.http.oidc import GoogleOidcVerifier
        from lib.http.ratelimit import RedisRateLimiter
        from lib.logs import configure_logging, register_secret

        settings = self.settings
        configure_logging(settings.log_level)
        register_secret(*secret_values(settings))
        return HttpDeps(
            settings=settings,
            jwt=SupabaseJwtVerifier.from_settings(settings),
            oidc=GoogleOidcVerifier.from_settings(settings),
            rate_limiter=RedisRateLimiter.from_settings(settings),
            idempotency=PostgresIdempotencyStore(self.db),
            membership=MembershipResolver(self.db),
        )

    # --- payments --------------------------------------------------------------------
    @built_once
    def payments_repo(self) -> PaymentsRepo:
        from lib.adapters.postgres_payments import PostgresPayments

        return PostgresPayments(self.db)

    @built_once
    def phonepe_client(self) -> PhonePeClient:
        """One PhonePe client (one token) for both of its ports: checkout and AutoPay."""
        from lib.adapters.phonepe import PhonePeClient

        return PhonePeClient.from_settings(self.settings, self.kv, clock=self.clock)

    @built_once
    def phonepe(self) -> PaymentGateway:
        return self.phonepe_client

    @built_once
    def autopay(self) -> AutoPayGateway:
        return self.phonepe_client

    @built_once
    def mailer(self) -> Mailer:
        from lib.adapters.resend_mailer import ResendMailer

        s = self.settings
        return ResendMailer(
            s.resend_api_key.get_secret_value(),
            base_url=s.resend_base_url,
            sender=s.resend_from,
            connect_timeout_s=s.resend_connect_timeout_s,
            read_timeout_s=s.resend_timeout_s,
        )

    @built_once
    def payment_deps(self) -> PaymentDeps:
        from lib.adapters.postgres_payments import PostgresPaymentsUnit
        from lib.adapters.receipt_pdf import render_receipt_pdf
        from lib.services.payments.deps import PaymentConfig, PaymentDeps
        from lib.services.payments.ports import ReceiptFiles

        db = self.db
        return PaymentDeps(
            repo=self.payments_repo,
            unit=lambda: PostgresPaymentsUnit(db),
            gateway=self.phonepe,
            tasks=self.tasks,
            mailer=self.mailer,
            clock=self.clock,
            config=PaymentConfig.from_settings(self.settings),
            kv=self.kv,
            autopay=self.autopay,
            receipt_files=ReceiptFiles(lambda: self.blobs, self.settings.gcs_bucket_exports, render_receipt_pdf),
        )

    # --- onboarding ------------------------------------------------------------------
    @built_once
    def onboarding(self) -> OnboardingDeps:
        from lib.adapters.firestore_drafts import FirestoreDrafts
        from lib.adapters.postgres_onboarding import PostgresOnboarding, PostgresOnboardingUnit
        from lib.adapters.redis_sessions import RedisSessionCache
        from lib.services.onboarding.deps import OnboardingDeps

        s, db = self.settings, self.db
        return OnboardingDeps(
            repo=PostgresOnboarding(db),
            unit=lambda: PostgresOnboardingUnit(db),
            drafts=FirestoreDrafts(self.documents),
            cache=RedisSessionCache(self.kv),
            tasks=self.tasks,
            clock=self.clock,
            entitlements=self.entitlements,
            ai_queue=s.tasks_queue_ai,
            functions_base_url=s.functions_base_url,
        )

    # --- AI suggestions --------------------------------------------------------------
    @built_once
    def llm(self) -> SuggestionModel:
        from lib.adapters.vertex import VertexSuggestions

        return VertexSuggestions.from_settings(self.settings)

    @built_once
    def onboarding_ai(self) -> SuggestionDeps:
        from lib.services.onboarding_ai import SuggestionDeps

        return SuggestionDeps(self.onboarding, self.llm, self.clock, timeout_s=self.settings.ai_timeout_s)

    # --- BCM -------------------------------------------------------------------------
    @built_once
    def bcm_cache(self) -> ManifestCache:
        """The manifest cache tiers; one per instance, so tier0 (memory) is shared by its requests."""
        from lib.services.bcm.tiers import ManifestCache

        return ManifestCache(self.kv, self.documents, self.clock)

    @built_once
    def bcm(self) -> BcmDeps:
        from lib.adapters.postgres_bcm import PostgresBcm, PostgresBcmUnit
        from lib.services.bcm.deps import BcmConfig, BcmDeps
        from lib.services.bcm.sessions import OnboardingStoreSessions

        s, db = self.settings, self.db
        return BcmDeps(
            repo=PostgresBcm(db),
            cache=self.bcm_cache,
            blobs=self.blobs,
            tasks=self.tasks,
            clock=self.clock,
            config=BcmConfig(
                exports_bucket=s.gcs_bucket_exports,
                rebuild_queue=s.tasks_queue_bcm,
                functions_base_url=s.functions_base_url,
            ),
            entitlements=self.entitlements,
            unit=lambda: PostgresBcmUnit(db),
            sessions=OnboardingStoreSessions(self.onboarding),
        )


_lock = threading.Lock()
_container: Container | None = None


def container() -> Container:
    """The instance-wide container (created once, thread-safe)."""
    global _container  # noqa: PLW0603 - the one per-instance singleton, by design
    if _container is None:
        with _lock:
            if _container is None:
                _container = Container()
    return _container


def install(instance: Container) -> None:
    """Use ``instance`` as the process container (the local dev server; function tests)."""
    global _container  # noqa: PLW0603
    with _lock:
        _container = instance


def reset() -> None:
    """Forget the instance container (tests; the local dev server after env changes)."""
    global _container  # noqa: PLW0603
    with _lock:
        _container = None


def secret_values(settings: Settings) -> list[str]:
    """Every secret in Settings, plus the webhook Authorization value derived from two of them."""
    values = [v.get_secret_value() for v in settings.model_dump().values() if isinstance(v, SecretStr)]
    user = settings.phonepe_webhook_username
    password = settings.phonepe_webhook_password.get_secret_value()
    values.append(hashlib.sha256(f"{user}:{password}".encode()).hexdigest())
    return [v for v in values if v]


# --- wiring: what each function's Router runs on ---------------------------------------


@dataclass(frozen=True)
class MaintenanceDeps:
    """The scheduled jobs touch two features."""

    payments: PaymentDeps
    onboarding: OnboardingDeps


def _wire(app: Callable[[Container], T]) -> Wiring[T]:
    built = container()
    return Wiring(built.http, app(built))


def payments() -> Wiring[PaymentDeps]:
    """initiate_payment, payment_status, payment_webhook, payment_reconcile."""
    return _wire(lambda c: c.payment_deps)


def onboarding() -> Wiring[OnboardingDeps]:
    """onboarding_step."""
    return _wire(lambda c: c.onboarding)


def onboarding_ai() -> Wiring[SuggestionDeps]:
    """onboarding_ai."""
    return _wire(lambda c: c.onboarding_ai)


def bcm() -> Wiring[BcmDeps]:
    """finalize, context, bcm_rebuild."""
    return _wire(lambda c: c.bcm)


def maintenance() -> Wiring[MaintenanceDeps]:
    """maintenance."""
    return _wire(lambda c: MaintenanceDeps(payments=c.payment_deps, onboarding=c.onboarding))
