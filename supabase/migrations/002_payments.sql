-- Payments: orders (payment_transactions) with a forward-only state machine,
-- the workspace subscription, PhonePe webhook de-duplication, the email
-- outbox and HTTP idempotency keys.  Amounts are integers in paise.
-- RLS is enabled here; policies and grants: 005.

-- ------------------------------------------------- payment_transactions ----
create table public.payment_transactions (
  id uuid primary key default gen_random_uuid(),
  merchant_order_id text not null,
  -- Money records are kept: deleting a workspace or user that has paid is
  -- refused rather than silently erasing the ledger.
  workspace_id uuid not null references public.workspaces (id) on delete restrict,
  user_id uuid not null references public.users (id) on delete restrict,
  plan_id text not null references public.plans (id),
  billing_period text not null,
  amount_paise bigint not null,
  currency text not null default 'INR',
  state text not null default 'CREATED',
  phonepe_order_id text null,
  checkout_url text null,
  expires_at timestamptz null,
  last_checked_at timestamptz null,
  error_code text null,
  payment_details jsonb null,
  completed_at timestamptz null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint payment_transactions_merchant_order_id_key unique (merchant_order_id),
  constraint payment_transactions_merchant_order_id_format
    check (merchant_order_id ~ '^[A-Za-z0-9_-]{1,63}$'),
  constraint payment_transactions_amount_paise_nonnegative check (amount_paise >= 0),
  constraint payment_transactions_billing_period_known check (billing_period in ('monthly', 'annual')),
  constraint payment_transactions_currency_format check (currency ~ '^[A-Z]{3}$'),
  constraint payment_transactions_state_known check (
    state in ('CREATED', 'PENDING', 'COMPLETED', 'FAILED', 'EXPIRED', 'REFUNDED', 'NEEDS_REVIEW')
  )
);
alter table public.payment_transactions enable row level security;
create index payment_transactions_workspace_id_idx on public.payment_transactions (workspace_id, created_at desc);
create index payment_transactions_user_id_idx on public.payment_transactions (user_id, created_at desc);
create index payment_transactions_plan_id_idx on public.payment_transactions (plan_id);
create index payment_transactions_phonepe_order_id_idx on public.payment_transactions (phonepe_order_id)
  where phonepe_order_id is not null;
-- The reconciliation sweep: orders still open, oldest check first.
create index payment_transactions_open_idx on public.payment_transactions (last_checked_at nulls first, created_at)
  where state in ('CREATED', 'PENDING');

-- Forward-only: CREATED -> PENDING|FAILED|EXPIRED|COMPLETED;
-- PENDING -> COMPLETED|FAILED|EXPIRED; COMPLETED -> REFUNDED;
-- FAILED|EXPIRED -> NEEDS_REVIEW (money arrived after we gave up).
-- Same state is a no-op.  The order's identity and price never change.
create or replace function public.payment_transactions_guard() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.merchant_order_id is distinct from old.merchant_order_id
     or new.workspace_id is distinct from old.workspace_id
     or new.user_id is distinct from old.user_id
     or new.plan_id is distinct from old.plan_id
     or new.billing_period is distinct from old.billing_period
     or new.amount_paise is distinct from old.amount_paise
     or new.currency is distinct from old.currency then
    raise exception 'payment_transactions: order % identity and amount are immutable', old.merchant_order_id
      using hint = 'create a new order instead';
  end if;
  if new.state is distinct from old.state and not (
       (old.state = 'CREATED' and new.state in ('PENDING', 'FAILED', 'EXPIRED', 'COMPLETED'))
    or (old.state = 'PENDING' and new.state in ('COMPLETED', 'FAILED', 'EXPIRED'))
    or (old.state = 'COMPLETED' and new.state = 'REFUNDED')
    or (old.state in ('FAILED', 'EXPIRED') and new.state = 'NEEDS_REVIEW')
  ) then
    raise exception 'payment_transactions: illegal state transition % -> % for order %',
      old.state, new.state, old.merchant_order_id;
  end if;
  if new.state = 'COMPLETED' and old.state <> 'COMPLETED' and new.completed_at is null then
    new.completed_at := now();
  end if;
  return new;
end;
$$;

create trigger payment_transactions_guard
  before update on public.payment_transactions
  for each row execute function public.payment_transactions_guard();

create trigger payment_transactions_set_updated_at
  before update on public.payment_transactions
  for each row execute function public.set_updated_at();

-- -------------------------------------------------------- subscriptions ----
create table public.subscriptions (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  plan_id text not null references public.plans (id),
  billing_period text not null default 'monthly',
  status text not null default 'active',
  current_period_start timestamptz not null default now(),
  -- null: no end (the free plan).
  current_period_end timestamptz null,
  last_transaction_id uuid null references public.payment_transactions (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint subscriptions_workspace_id_key unique (workspace_id),
  constraint subscriptions_billing_period_known check (billing_period in ('monthly', 'annual')),
  constraint subscriptions_status_known check (status in ('active', 'past_due', 'cancelled', 'expired')),
  constraint subscriptions_period_order check (
    current_period_end is null or current_period_end > current_period_start
  )
);
alter table public.subscriptions enable row level security;
create index subscriptions_plan_id_idx on public.subscriptions (plan_id);
create index subscriptions_last_transaction_id_idx on public.subscriptions (last_transaction_id);
-- The expiry sweep: active subscriptions whose period ends soonest.
create index subscriptions_period_end_idx on public.subscriptions (current_period_end)
  where status in ('active', 'past_due');

create trigger subscriptions_set_updated_at
  before update on public.subscriptions
  for each row execute function public.set_updated_at();

-- ------------------------------------------------------- webhook_events ----
create table public.webhook_events (
  id bigserial primary key,
  provider text not null,
  event_key text not null,
  event_type text not null,
  merchant_order_id text null,
  payload jsonb null,
  raw_body text null,
  valid boolean not null,
  outcome text null,
  error text null,
  received_at timestamptz not null default now(),
  processed_at timestamptz null,
  constraint webhook_events_provider_event_key_key unique (provider, event_key)
);
alter table public.webhook_events enable row level security;
create index webhook_events_merchant_order_id_idx on public.webhook_events (merchant_order_id)
  where merchant_order_id is not null;
create index webhook_events_received_at_idx on public.webhook_events (received_at);

-- --------------------------------------------------------- email_outbox ----
create table public.email_outbox (
  id uuid primary key default gen_random_uuid(),
  kind text not null,
  to_email text not null,
  subject text not null,
  payload jsonb not null default '{}'::jsonb,
  idempotency_key text not null,
  status text not null default 'pending',
  attempts int not null default 0,
  last_error text null,
  next_attempt_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  sent_at timestamptz null,
  constraint email_outbox_idempotency_key_key unique (idempotency_key),
  constraint email_outbox_status_known check (status in ('pending', 'sent', 'failed')),
  constraint email_outbox_attempts_nonnegative check (attempts >= 0),
  constraint email_outbox_to_email_format check (to_email ~ '^[^@\s]+@[^@\s]+$')
);
alter table public.email_outbox enable row level security;
-- The relay: pending mail that is due.
create index email_outbox_due_idx on public.email_outbox (next_attempt_at) where status = 'pending';

-- ----------------------------------------------------- idempotency_keys ----
create table public.idempotency_keys (
  user_id uuid not null references public.users (id) on delete cascade,
  scope text not null,
  key text not null,
  request_hash text not null,
  status text not null default 'in_flight',
  response_status int null,
  response_body jsonb null,
  response_headers jsonb null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  primary key (user_id, scope, key),
  constraint idempotency_keys_status_known check (status in ('in_flight', 'completed')),
  constraint idempotency_keys_response_status_range check (
    response_status is null or response_status between 100 and 599
  )
);
alter table public.idempotency_keys enable row level security;
-- The cleanup sweep.
create index idempotency_keys_expires_at_idx on public.idempotency_keys (expires_at);

revoke all on function public.payment_transactions_guard() from public, anon, authenticated;
