-- The billing ledger around an order: what each paid order bought, its
-- refunds, its receipt, and UPI AutoPay mandates with their redemptions.
-- Amounts are integers in paise.  The rules live in lib/domain (refunds.py,
-- receipts.py, autopay.py); the checks here are their backstop.

-- ------------------------------------------------ payment_transactions ----
-- kind: a checkout (the customer pays on PhonePe's page), a mandate's setup
-- order (the first period, paid while approving AutoPay) or a redemption
-- (AutoPay's charge for a renewal).  period_start/period_end: the time the
-- order bought, written when it is granted (a refund takes back a share of it;
-- the receipt quotes it).
alter table public.payment_transactions
  add column kind text not null default 'checkout',
  add column period_start timestamptz null,
  add column period_end timestamptz null,
  add constraint payment_transactions_kind_known check (kind in ('checkout', 'mandate_setup', 'redemption')),
  add constraint payment_transactions_period_together check ((period_start is null) = (period_end is null)),
  add constraint payment_transactions_period_order check (period_end is null or period_end > period_start);

-- -------------------------------------------------------------- refunds ----
-- One row per refund asked of PhonePe, keyed by our merchantRefundId (the
-- operator's retry of the same request is the same row, never a second
-- refund).  REQUESTED: written before PhonePe is asked (its answer may be
-- lost); PENDING: PhonePe accepted it; COMPLETED / FAILED: final.
create table public.refunds (
  id uuid primary key default gen_random_uuid(),
  merchant_refund_id text not null,
  merchant_order_id text not null references public.payment_transactions (merchant_order_id) on delete restrict,
  workspace_id uuid not null references public.workspaces (id) on delete restrict,
  amount_paise bigint not null,
  reason text not null,
  requested_by text not null,
  state text not null default 'REQUESTED',
  phonepe_refund_id text null,
  error_code text null,
  last_checked_at timestamptz null,
  completed_at timestamptz null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint refunds_merchant_refund_id_key unique (merchant_refund_id),
  constraint refunds_merchant_refund_id_format check (merchant_refund_id ~ '^[A-Za-z0-9_-]{1,63}$'),
  constraint refunds_amount_positive check (amount_paise > 0),
  constraint refunds_reason_length check (char_length(reason) between 1 and 500),
  constraint refunds_requested_by_length check (char_length(requested_by) between 1 and 200),
  constraint refunds_state_known check (state in ('REQUESTED', 'PENDING', 'COMPLETED', 'FAILED'))
);
alter table public.refunds enable row level security;
create index refunds_merchant_order_id_idx on public.refunds (merchant_order_id);
create index refunds_workspace_id_idx on public.refunds (workspace_id, created_at desc);
-- The refund ladder's sweep: refunds not final yet, oldest check first.
create index refunds_open_idx on public.refunds (last_checked_at nulls first, created_at)
  where state in ('REQUESTED', 'PENDING');

-- Forward-only, identity immutable; and never more refunded than was paid:
-- the refunds of an order that have not failed add up to at most its amount.
create or replace function public.refunds_guard() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  paid bigint;
  taken bigint;
begin
  if tg_op = 'UPDATE' then
    if new.merchant_refund_id is distinct from old.merchant_refund_id
       or new.merchant_order_id is distinct from old.merchant_order_id
       or new.workspace_id is distinct from old.workspace_id
       or new.amount_paise is distinct from old.amount_paise then
      raise exception 'refunds: refund % identity and amount are immutable', old.merchant_refund_id;
    end if;
    if new.state is distinct from old.state and not (
         (old.state = 'REQUESTED' and new.state in ('PENDING', 'COMPLETED', 'FAILED'))
      or (old.state = 'PENDING' and new.state in ('COMPLETED', 'FAILED'))
    ) then
      raise exception 'refunds: illegal state transition % -> % for refund %',
        old.state, new.state, old.merchant_refund_id;
    end if;
    if new.state = 'COMPLETED' and old.state <> 'COMPLETED' and new.completed_at is null then
      new.completed_at := now();
    end if;
    return new;
  end if;
  select amount_paise into paid from public.payment_transactions
    where merchant_order_id = new.merchant_order_id and state in ('COMPLETED', 'REFUNDED')
    for update;
  if paid is null then
    raise exception 'refunds: order % is not paid', new.merchant_order_id;
  end if;
  select coalesce(sum(amount_paise), 0) into taken from public.refunds
    where merchant_order_id = new.merchant_order_id and state <> 'FAILED';
  if taken + new.amount_paise > paid then
    raise exception 'refunds: % + % paise exceeds the % paid for order %',
      taken, new.amount_paise, paid, new.merchant_order_id;
  end if;
  return new;
end;
$$;

create trigger refunds_guard
  before insert or update on public.refunds
  for each row execute function public.refunds_guard();

create trigger refunds_set_updated_at
  before update on public.refunds
  for each row execute function public.set_updated_at();

-- ------------------------------------------------------------- receipts ----
-- Numbered per issuer and Indian financial year without gaps: the number is
-- taken from receipt_counters in the transaction that grants the order, so a
-- rolled-back grant gives its number back.  The row keeps everything the
-- receipt says as it was at issue (issuer, customer, line, GST), so the PDF,
-- rendered on need and kept at storage_path, is a function of the row alone.
create table public.receipt_counters (
  issuer text not null,
  financial_year text not null,
  last_seq int not null,
  primary key (issuer, financial_year),
  constraint receipt_counters_fy_format check (financial_year ~ '^[0-9]{4}-[0-9]{2}$'),
  constraint receipt_counters_seq_positive check (last_seq >= 1)
);
alter table public.receipt_counters enable row level security;

create table public.receipts (
  id uuid primary key default gen_random_uuid(),
  number text not null,
  issuer text not null,
  financial_year text not null,
  seq int not null,
  merchant_order_id text not null references public.payment_transactions (merchant_order_id) on delete restrict,
  workspace_id uuid not null references public.workspaces (id) on delete restrict,
  issued_at timestamptz not null,
  issuer_name text not null,
  issuer_address text not null,
  customer_name text not null,
  customer_email text not null,
  description text not null,
  amount_paise bigint not null,
  credit_paise bigint not null default 0,
  -- The GST breakup, when a GSTIN was configured at issue (prices include GST).
  gstin text null,
  place_of_supply text null,
  taxable_paise bigint null,
  tax_paise bigint null,
  storage_path text null,
  created_at timestamptz not null default now(),
  constraint receipts_number_key unique (number),
  constraint receipts_issuer_seq_key unique (issuer, financial_year, seq),
  constraint receipts_merchant_order_id_key unique (merchant_order_id),
  constraint receipts_number_format check (number ~ '^R/[0-9]{4}-[0-9]{2}/[0-9]{6,}$'),
  constraint receipts_amounts_nonnegative check (amount_paise >= 0 and credit_paise >= 0),
  constraint receipts_gst_together check (
    (gstin is null and place_of_supply is null and taxable_paise is null and tax_paise is null)
    or (gstin is not null and place_of_supply is not null and taxable_paise is not null and tax_paise is not null
        and taxable_paise + tax_paise = amount_paise)
  )
);
alter table public.receipts enable row level security;
create index receipts_workspace_id_idx on public.receipts (workspace_id, issued_at desc);

-- ------------------------------------------------------------- mandates ----
-- A UPI AutoPay mandate (PhonePe Subscriptions v2) for one workspace's plan.
-- state is PhonePe's subscription state; at most one live mandate per
-- workspace.  autopay_off_at: when we stopped using it (cancel, revoke, a
-- plan change beyond its maximum).
create table public.mandates (
  id uuid primary key default gen_random_uuid(),
  merchant_subscription_id text not null,
  workspace_id uuid not null references public.workspaces (id) on delete restrict,
  user_id uuid not null references public.users (id) on delete restrict,
  plan_id text not null references public.plans (id),
  billing_period text not null,
  phonepe_subscription_id text null,
  state text not null default 'CREATED',
  max_amount_paise bigint not null,
  amount_type text not null default 'VARIABLE',
  frequency text not null,
  setup_merchant_order_id text not null references public.payment_transactions (merchant_order_id)
    on delete restrict,
  autopay_off_at timestamptz null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint mandates_merchant_subscription_id_key unique (merchant_subscription_id),
  constraint mandates_merchant_subscription_id_format check (merchant_subscription_id ~ '^[A-Za-z0-9_-]{1,63}$'),
  constraint mandates_setup_order_key unique (setup_merchant_order_id),
  constraint mandates_billing_period_known check (billing_period in ('monthly', 'annual')),
  constraint mandates_state_known check (
    state in ('CREATED', 'PENDING', 'ACTIVE', 'PAUSED', 'CANCELLED', 'REVOKED', 'EXPIRED', 'FAILED')
  ),
  constraint mandates_max_amount_positive check (max_amount_paise > 0),
  constraint mandates_amount_type_known check (amount_type in ('FIXED', 'VARIABLE')),
  constraint mandates_frequency_known check (frequency in ('MONTHLY', 'YEARLY'))
);
alter table public.mandates enable row level security;
create unique index mandates_one_live_per_workspace on public.mandates (workspace_id)
  where state in ('CREATED', 'PENDING', 'ACTIVE', 'PAUSED') and autopay_off_at is null;
create index mandates_user_id_idx on public.mandates (user_id);
create index mandates_plan_id_idx on public.mandates (plan_id);

create trigger mandates_set_updated_at
  before update on public.mandates
  for each row execute function public.set_updated_at();

-- One AutoPay charge: the pre-debit notification (at least 24 hours before
-- the charge, RBI's rule for e-mandates), then the redemption on the due
-- date.  The money side is its payment_transactions row (kind 'redemption').
create table public.redemptions (
  merchant_order_id text primary key references public.payment_transactions (merchant_order_id) on delete restrict,
  mandate_id uuid not null references public.mandates (id) on delete restrict,
  -- The period end this charge renews from (one redemption per mandate and period).
  renews_from timestamptz not null,
  due_at timestamptz not null,
  notified_at timestamptz null,
  redeem_requested_at timestamptz null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint redemptions_once_per_period unique (mandate_id, renews_from)
);
alter table public.redemptions enable row level security;
-- The scheduler's reads: charges to notify, then charges to redeem.
create index redemptions_to_notify_idx on public.redemptions (due_at) where notified_at is null;
create index redemptions_to_redeem_idx on public.redemptions (due_at)
  where notified_at is not null and redeem_requested_at is null;

create trigger redemptions_set_updated_at
  before update on public.redemptions
  for each row execute function public.set_updated_at();

-- ----------------------------------------------------- policies, grants ----
-- Members see their workspace's refunds, receipts and mandates (the billing
-- page); only the backend writes.  Counters and redemptions are internal.
create policy refunds_select on public.refunds
  for select to authenticated
  using (public.is_workspace_member(workspace_id));
create policy receipts_select on public.receipts
  for select to authenticated
  using (public.is_workspace_member(workspace_id));
create policy mandates_select on public.mandates
  for select to authenticated
  using (public.is_workspace_member(workspace_id));

revoke all on public.refunds, public.receipts, public.mandates, public.receipt_counters, public.redemptions
  from anon, authenticated;
grant select on public.refunds, public.receipts, public.mandates to authenticated;
grant all on public.refunds, public.receipts, public.mandates, public.receipt_counters, public.redemptions
  to service_role;
