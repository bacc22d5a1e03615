-- UNDO 002_payments: the payment_transactions, subscriptions, webhook_events,
-- email_outbox and idempotency_keys tables (with their constraints, indexes,
-- triggers and the webhook_events id sequence) and the
-- payment_transactions_guard function.
--
-- Data lost: THE MONEY LEDGER.  Every order and its PhonePe state, every
-- workspace subscription, the webhook de-duplication log (a replayed
-- webhook would be processed again), unsent mail in the outbox and every
-- stored idempotent response.  Do not ship this without an export kept with
-- the release record:
--   pg_dump "$DATABASE_URL" --data-only --table=public.payment_transactions \
--     --table=public.subscriptions --table=public.webhook_events \
--     --table=public.email_outbox --table=public.idempotency_keys > payments.sql
-- Prerequisites: 007, 006 and 005 undone (006 extends subscriptions; 005's policies read payment_transactions and
-- subscriptions); refused otherwise.  003 and 004 do not depend on 002.
-- Runs in one transaction (the migration runner wraps each file; by hand:
-- psql --single-transaction -v ON_ERROR_STOP=1 -f ...).  Idempotent.

do $$
begin
  if to_regclass('public.refunds') is not null or to_regclass('public.mandates') is not null then
    raise exception 'undo 007_billing_ledger before 002_payments: its tables reference payment_transactions';
  end if;
  if to_regclass('public.plan_usage') is not null
     or exists (select 1 from information_schema.columns
                where table_schema = 'public' and table_name = 'plans' and column_name = 'rebuilds_per_day') then
    raise exception 'undo 006_subscription_lifecycle before 002_payments: it extends subscriptions';
  end if;
  if exists (
    select 1 from pg_policies
    where schemaname = 'public'
      and tablename in ('payment_transactions', 'subscriptions', 'webhook_events', 'email_outbox', 'idempotency_keys')
  ) then
    raise exception 'undo 005_rls_policies before 002_payments: policies still read its tables';
  end if;
end
$$;

-- subscriptions references payment_transactions: it goes first.  Indexes,
-- constraints, triggers and the owned sequence go with each table.
drop table if exists public.subscriptions;
drop table if exists public.payment_transactions;
drop table if exists public.webhook_events;
drop table if exists public.email_outbox;
drop table if exists public.idempotency_keys;
drop function if exists public.payment_transactions_guard();
