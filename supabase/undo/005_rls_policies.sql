-- UNDO 005_rls_policies: the frontend's row level security policies, the
-- public.is_workspace_member helper and the tightened table grants.
--
-- Data lost: none (no table, column or row is dropped).
-- Effect: every policy goes, but RLS stays ENABLED on every table (001-004
-- enabled it), so anon and authenticated are denied every row: the frontend
-- loses its direct (PostgREST / supabase-js) reads until policies return.
-- Table privileges go back to what the tables had before 005, Supabase's
-- defaults: ALL to anon, authenticated and service_role (harmless while RLS
-- is on with no policy).  Only the tables 001-004 made are re-granted, by
-- name, never "all tables in schema public".
-- Prerequisites: 007 and 006 undone (their policies call is_workspace_member); undo 005
-- before undoing any of 001-004.
-- Runs in one transaction (the migration runner wraps each file; by hand:
-- psql --single-transaction -v ON_ERROR_STOP=1 -f ...).  Idempotent.

do $$
begin
  if to_regclass('public.refunds') is not null or to_regclass('public.mandates') is not null then
    raise exception 'undo 007_billing_ledger before 005_rls_policies: its policies call is_workspace_member';
  end if;
  if to_regclass('public.plan_usage') is not null
     or exists (select 1 from information_schema.columns
                where table_schema = 'public' and table_name = 'plans' and column_name = 'rebuilds_per_day') then
    raise exception 'undo 006_subscription_lifecycle before 005_rls_policies: it extends the policies (plan_usage_select calls is_workspace_member)';
  end if;
end
$$;

-- ------------------------------------------------------------- policies ----
drop policy if exists bcm_jobs_select on public.bcm_jobs;
drop policy if exists bcm_manifests_select on public.bcm_manifests;
drop policy if exists business_contexts_select on public.business_contexts;
drop policy if exists onboarding_sessions_select on public.onboarding_sessions;
drop policy if exists payment_transactions_select on public.payment_transactions;
drop policy if exists subscriptions_select on public.subscriptions;
drop policy if exists workspace_members_select on public.workspace_members;
drop policy if exists workspaces_select on public.workspaces;
drop policy if exists users_update on public.users;
drop policy if exists users_select on public.users;
drop policy if exists plans_select on public.plans;

-- --------------------------------------------------------------- grants ----
-- The column grant is a separate ACL entry: the table grant below does not
-- replace it, so it is revoked explicitly.
revoke update (full_name) on public.users from authenticated;

grant all on
  public.plans,
  public.users,
  public.workspaces,
  public.workspace_members,
  public.payment_transactions,
  public.subscriptions,
  public.webhook_events,
  public.email_outbox,
  public.idempotency_keys,
  public.business_contexts,
  public.bcm_manifests,
  public.bcm_jobs,
  public.onboarding_sessions
to anon, authenticated, service_role;
grant all on sequence public.webhook_events_id_seq to anon, authenticated, service_role;

-- --------------------------------------------------------------- helper ----
-- Last: the policies above called it.
drop function if exists public.is_workspace_member(uuid);
