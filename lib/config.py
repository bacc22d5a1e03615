"""One typed Settings object, read from the environment.

This is the only module that reads ``os.environ`` (through pydantic-settings).
Secrets are ``SecretStr`` so they never print; ``Settings.public_dict()`` is
what logs and ``check-env`` show.
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lib import queues


class AppEnv(StrEnum):
    LOCAL = "local"
    TEST = "test"
    PRODUCTION = "production"


class TasksMode(StrEnum):
    CLOUD = "cloud"  # google-cloud-tasks, HTTP tasks with OIDC tokens
    LOCAL = "local"  # the local dispatcher in devtools.local.dispatcher


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    # --- runtime -----------------------------------------------------------
    app_env: AppEnv = AppEnv.LOCAL
    log_level: str = "INFO"
    gcp_project: str = "bcm-local"
    gcp_region: str = "asia-south1"
    # Base URL under which every function is reachable (locally: one port).
    functions_base_url: str = "http://127.0.0.1:8080"
    # The URL the frontend is served from (PhonePe redirect target).
    frontend_url: str = "http://127.0.0.1:8080"

    # --- Supabase Postgres -------------------------------------------------
    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:54322/postgres")
    db_pool_min: int = 1
    db_pool_max: int = 5
    # A query that takes longer than this is cancelled (ms).
    db_statement_timeout_ms: int = 5000
    db_connect_timeout_s: float = 3.0

    # --- Supabase Auth -----------------------------------------------------
    supabase_url: str = "http://127.0.0.1:8080/_dev/auth"
    supabase_jwt_secret: SecretStr | None = None  # legacy HS256 shared secret
    supabase_jwks_url: str | None = None  # ES256/RS256 keys; default <supabase_url>/auth/v1/.well-known/jwks.json
    supabase_jwt_issuer: str | None = None  # default <supabase_url>/auth/v1
    supabase_jwt_audience: str = "authenticated"
    jwt_leeway_s: int = 30

    # --- Redis / Memorystore ----------------------------------------------
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    redis_timeout_ms: int = 300
    # Memorystore's server CA (PEM; public, not secret): rediss:// connections verify the server with it.
    redis_ca_pem: str | None = None
    # Pooled connections per instance; a request waits (up to the timeout) when all are busy.
    redis_pool_max: int = 32

    # --- Firestore -----------------------------------------------------------
    firestore_database: str = "(default)"
    firestore_emulator_host: str | None = None
    # One RPC is abandoned after this long (a hung backend looks like a partition): an autosave is
    # refused within 2 s end to end with the Postgres check before it.  Drafts are small documents.
    firestore_timeout_s: float = Field(default=1.5, gt=0)
    # Transient errors (UNAVAILABLE, 429, 500) are retried with backoff for at most this long in total.
    firestore_retry_budget_s: float = Field(default=1.5, gt=0)
    # The RPCs of a transaction (``update_if``: finalize closing the draft, never autosave) may wait
    # for a contended document's lock, which Firestore holds while another transaction runs.
    firestore_transaction_timeout_s: float = Field(default=5.0, gt=0)

    # --- Cloud Storage -------------------------------------------------------
    storage_emulator_host: str | None = None
    gcs_bucket_exports: str = "bcm-exports-local"
    gcs_bucket_evidence: str = "bcm-evidence-local"
    # Service account whose key signs URLs through IAM signBlob in production.
    signing_service_account: str | None = None

    # --- Cloud Tasks ---------------------------------------------------------
    tasks_mode: TasksMode = TasksMode.LOCAL
    tasks_local_url: str = "http://127.0.0.1:8080/_dev/tasks"
    # Queue names (lib/queues.json); Terraform sets the deployed ones, which end in -<env>.
    tasks_queue_ai: str = queues.AI.name
    tasks_queue_bcm: str = queues.BCM.name
    tasks_queue_payments: str = queues.PAYMENTS.name
    tasks_queue_outbox: str = queues.OUTBOX.name
    # The identity Cloud Tasks and Scheduler sign OIDC tokens as.
    tasks_invoker_email: str = "tasks-invoker@bcm-local.iam.gserviceaccount.com"

    # --- Internal endpoint auth (Google OIDC) --------------------------------
    oidc_audience: str | None = None  # default: <functions_base_url>/<function>, the receiver's own URL
    # Comma-separated (as Terraform sets it); NoDecode: pydantic-settings would parse a list as JSON.
    oidc_allowed_emails: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Local only: the JWKS of the local OIDC signer (never set in production).
    oidc_local_jwks_url: str | None = None

    # --- Vertex AI (google-genai) -------------------------------------------
    vertex_location: str = "asia-south1"
    vertex_model: str = "gemini-2.5-flash"
    # Local only: base URL of the Gemini stand-in.
    genai_base_url: str | None = None
    ai_timeout_s: float = 30.0

    # --- PhonePe -------------------------------------------------------------
    phonepe_env: str = "sandbox"
    phonepe_client_id: str = "LOCAL_CLIENT"
    phonepe_client_secret: SecretStr = SecretStr("local-client-secret")
    phonepe_client_version: int = 1
    phonepe_api_base: str = "http://127.0.0.1:8080/_dev/phonepe/apis/pg-sandbox"
    phonepe_token_url: str = "http://127.0.0.1:8080/_dev/phonepe/apis/pg-sandbox/v1/oauth/token"  # noqa: S105 - a URL
    phonepe_webhook_username: str = "localhook"
    phonepe_webhook_password: SecretStr = SecretStr("localhook123")
    phonepe_connect_timeout_s: float = 3.0
    phonepe_read_timeout_s: float = 10.0
    phonepe_order_expire_s: int = 1200
    # Subscriptions: how long a paid plan stays usable after its period ends unpaid (past_due).
    subscription_grace_days: int = Field(default=3, ge=0, le=30)
    # --- Receipts: who issues them (printed on every receipt, kept with it at issue) ---
    receipt_issuer_name: str = "Founders BCM Private Limited"
    receipt_issuer_address: str = "Bengaluru, Karnataka, India"  # lines separated by " | "
    # The issuer's GSTIN: receipts then show the GST inside each price (18 %); empty: no GST lines.
    receipt_gstin: str | None = None

    # --- Resend ----------------------------------------------------------------
    resend_api_key: SecretStr = SecretStr("re_local_dev_key")
    resend_from: str = "Founders <billing@example.com>"
    resend_base_url: str = "https://api.resend.com"
    # Resend connect / read timeouts (s); a send that times out is retried with the same idempotency key.
    resend_connect_timeout_s: float = 3.0
    resend_timeout_s: float = 10.0

    # --- Local suite -------------------------------------------------------------
    local_dir: str = ".local"
    dev_port: int = 8080
    # Enables /_dev/* (token minting, simulators). Refused outside local/test.
    dev_routes: bool = False

    @field_validator("oidc_allowed_emails", mode="before")
    @classmethod
    def _split_emails(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.lstrip().startswith("["):  # a JSON list is accepted too
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("receipt_gstin", mode="before")
    @classmethod
    def _gstin(cls, value: Any) -> Any:
        """Empty means not registered; anything else must be a valid GSTIN (checksum included)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        from lib.domain.receipts import validate_gstin

        return validate_gstin(str(value).strip().upper())

    @model_validator(mode="after")
    def _guard_production(self) -> Settings:
        if self.app_env is AppEnv.PRODUCTION:
            if self.dev_routes:
                raise ValueError("DEV_ROUTES must not be enabled in production")
            if self.oidc_local_jwks_url:
                raise ValueError("OIDC_LOCAL_JWKS_URL must not be set in production")
            if self.tasks_mode is not TasksMode.CLOUD:
                raise ValueError("TASKS_MODE must be 'cloud' in production")
        return self

    # --- derived ------------------------------------------------------------------
    @property
    def jwt_issuer(self) -> str:
        return self.supabase_jwt_issuer or f"{self.supabase_url.rstrip('/')}/auth/v1"

    @property
    def jwks_url(self) -> str:
        return self.supabase_jwks_url or f"{self.jwt_issuer}/.well-known/jwks.json"

    def public_dict(self) -> dict[str, Any]:
        """Every setting with secrets masked: safe to print or log."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                out[name] = "**********" if value.get_secret_value() else ""
            else:
                out[name] = value
        return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The instance's settings, read once (cold start) and reused."""
    return Settings()
