-- UNDO 007_billing_ledger: refunds, receipts and their counters, UPI AutoPay
-- mandates and redemptions, and the order's kind and bought period.
--
-- Data lost: EVERY REFUND, RECEIPT AND MANDATE RECORD.  Refund rows (what was
-- given back and why), issued receipt numbers and their GST breakup (the
-- numbering would restart at 1 on a redo: keep the dump with the tax
-- records), AutoPay mandates (PhonePe keeps charging a live mandate: cancel
-- them at PhonePe first), scheduled redemptions, and what each order bought.
-- Export first:
--   pg_dump "$DATABASE_URL" --data-only --table=public.refunds --table=public.receipts \
--     --table=public.receipt_counters --table=public.mandates --table=public.redemptions > ledger.sql
--   \copy (select merchant_order_id, kind, period_start, period_end from public.payment_transactions) to 'orders.csv' csv header
-- Prerequisites: none (no later migration depends on 007).
-- Runs in one transaction.  Idempotent.

drop table if exists public.redemptions;
drop table if exists public.mandates;
drop table if exists public.receipts;
drop table if exists public.receipt_counters;
drop table if exists public.refunds;
drop function if exists public.refunds_guard();

alter table public.payment_transactions
  drop constraint if exists payment_transactions_period_order,
  drop constraint if exists payment_transactions_period_together,
  drop constraint if exists payment_transactions_kind_known,
  drop column if exists period_end,
  drop column if exists period_start,
  drop column if exists kind;
