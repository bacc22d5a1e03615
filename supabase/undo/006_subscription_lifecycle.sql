-- UNDO 006_subscription_lifecycle: plan limits, the subscription lifecycle
-- columns and plan_usage.
--
-- Data lost: every workspace's daily usage counters (plan_usage), the
-- cancel-at-period-end flags, cancellation and end stamps, upgrade credit and
-- scheduled plan changes, and the credit recorded on upgrade orders.  Export first:
--   \copy public.plan_usage to 'plan_usage.csv' csv header
--   \copy (select workspace_id, cancel_at_period_end, cancelled_at, ended_at, credit_paise,
--          scheduled_plan_id, scheduled_billing_period from public.subscriptions) to 'lifecycle.csv' csv header
-- Effect: subscriptions keep their status (past_due / expired / cancelled are
-- allowed by 002) but nothing moves them any more; paid actions are no longer
-- limited per day.
-- Prerequisites: none (no later migration depends on 006).
-- Runs in one transaction.  Idempotent.

drop table if exists public.plan_usage;

alter table public.payment_transactions
  drop constraint if exists payment_transactions_credit_nonnegative,
  drop column if exists credit_paise;

drop index if exists public.subscriptions_next_sweep_at_idx;
drop index if exists public.subscriptions_scheduled_plan_id_idx;
alter table public.subscriptions
  drop constraint if exists subscriptions_cancel_needs_end,
  drop constraint if exists subscriptions_scheduled_together,
  drop constraint if exists subscriptions_scheduled_period_known,
  drop constraint if exists subscriptions_credit_nonnegative,
  drop column if exists next_sweep_at,
  drop column if exists scheduled_billing_period,
  drop column if exists scheduled_plan_id,
  drop column if exists credit_paise,
  drop column if exists ended_at,
  drop column if exists cancelled_at,
  drop column if exists cancel_at_period_end;

alter table public.plans
  drop constraint if exists plans_limits_nonnegative,
  drop column if exists ai_suggestions_per_day,
  drop column if exists exports_per_day,
  drop column if exists rebuilds_per_day;
