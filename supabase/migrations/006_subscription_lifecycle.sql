-- Subscriptions that end and renew: the lifecycle columns, plan limits and
-- the per-day usage they are counted against.
--
-- Lifecycle (the rule is lib/domain/subscriptions.py; the sweep writes it):
--   active -> past_due (period ended unpaid; access continues for the grace)
--          -> expired  (grace over)
--   active + cancel_at_period_end -> cancelled (at the period end, no grace)
-- The free plan has no period end and never moves.  A payment for the
-- workspace makes it active again (extending from the period end while
-- active or past_due, from the payment otherwise).
-- Plan changes: an upgrade takes effect at once with the unused paid time as
-- credit (credit_paise, taken off the new price); a downgrade or a period
-- switch waits in scheduled_plan_id / scheduled_billing_period for the end.

-- ---------------------------------------------------------- plan limits ----
-- null: unlimited.  Read with the subscription by every paid action.
alter table public.plans
  add column rebuilds_per_day int null,
  add column exports_per_day int null,
  add column ai_suggestions_per_day int null,
  add constraint plans_limits_nonnegative check (
    coalesce(rebuilds_per_day, 0) >= 0
    and coalesce(exports_per_day, 0) >= 0
    and coalesce(ai_suggestions_per_day, 0) >= 0
  );

update public.plans set rebuilds_per_day = 2, exports_per_day = 5, ai_suggestions_per_day = 20 where id = 'free';
update public.plans set rebuilds_per_day = 10, exports_per_day = 50, ai_suggestions_per_day = 200 where id = 'starter';
update public.plans set rebuilds_per_day = 50, exports_per_day = 200, ai_suggestions_per_day = 1000 where id = 'growth';
-- enterprise: unlimited (contracts say otherwise per customer).

-- ------------------------------------------------ subscription lifecycle ----
alter table public.subscriptions
  add column cancel_at_period_end boolean not null default false,
  add column cancelled_at timestamptz null,
  add column ended_at timestamptz null,
  add column credit_paise bigint not null default 0,
  add column scheduled_plan_id text null references public.plans (id),
  add column scheduled_billing_period text null,
  -- When the sweep next has something to do for this row (a reminder, the
  -- period end, the grace end); null: nothing ever (free, expired, cancelled).
  -- Written with every change from the domain's rule, so the hourly sweep
  -- reads only what is due.
  add column next_sweep_at timestamptz null,
  add constraint subscriptions_credit_nonnegative check (credit_paise >= 0),
  add constraint subscriptions_scheduled_period_known check (
    scheduled_billing_period is null or scheduled_billing_period in ('monthly', 'annual')
  ),
  add constraint subscriptions_scheduled_together check (
    (scheduled_plan_id is null) = (scheduled_billing_period is null)
  ),
  -- Only a paid period can be cancelled at its end.
  add constraint subscriptions_cancel_needs_end check (
    not cancel_at_period_end or current_period_end is not null
  );

create index subscriptions_scheduled_plan_id_idx on public.subscriptions (scheduled_plan_id);
create index subscriptions_next_sweep_at_idx on public.subscriptions (next_sweep_at)
  where next_sweep_at is not null;
-- Paid subscriptions granted before 006: due at once, so the first sweep
-- schedules them.
update public.subscriptions set next_sweep_at = now()
  where current_period_end is not null and status in ('active', 'past_due');

-- ------------------------------------------ payment_transactions.credit ----
-- An upgrade's order: the unused part of the old plan taken off the new
-- price.  amount_paise is what PhonePe charges; amount_paise + credit_paise
-- is the plan's list price, so the ledger adds up to the paisa.
alter table public.payment_transactions
  add column credit_paise bigint not null default 0,
  add constraint payment_transactions_credit_nonnegative check (credit_paise >= 0);

-- ------------------------------------------------------------ plan_usage ----
-- One counter per workspace, action and UTC day; the paid action increments
-- it in the same statement that checks the plan's limit.
create table public.plan_usage (
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  action text not null,
  day date not null,
  used int not null default 0,
  primary key (workspace_id, action, day),
  constraint plan_usage_action_known check (action in ('rebuild', 'export', 'ai_suggestion')),
  constraint plan_usage_used_nonnegative check (used >= 0)
);
alter table public.plan_usage enable row level security;

-- Members see their workspace's usage (a "3 of 10 rebuilds today" line);
-- only the backend writes it.
create policy plan_usage_select on public.plan_usage
  for select to authenticated
  using (public.is_workspace_member(workspace_id));
revoke all on public.plan_usage from anon, authenticated;
grant select on public.plan_usage to authenticated;
grant all on public.plan_usage to service_role;
