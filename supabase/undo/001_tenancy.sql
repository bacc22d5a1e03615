-- UNDO 001_tenancy: the plans, users, workspaces and workspace_members tables
-- (with the plan seed rows, constraints, indexes and the users updated_at
-- trigger), the sign-up and email-sync triggers on auth.users, and the
-- functions set_updated_at, provision_user, handle_new_auth_user and
-- handle_auth_user_email_change.
--
-- Data lost: the plan list, the public.users mirror, every workspace and
-- every membership.  auth.users (Supabase Auth) is kept, but from now on a
-- sign-up provisions nothing and email changes are no longer mirrored.
-- Re-applying 001 later re-provisions every auth user with a fresh
-- "<name>'s Workspace": workspace ids change.  Export first:
--   pg_dump "$DATABASE_URL" --data-only --table=public.plans --table=public.users \
--     --table=public.workspaces --table=public.workspace_members > tenancy.sql
-- Prerequisites: 007, 006, 005, 004, 003 and 002 undone (all build on these tables);
-- refused otherwise.
-- Runs in one transaction (the migration runner wraps each file; by hand:
-- psql --single-transaction -v ON_ERROR_STOP=1 -f ...).  Idempotent.

do $$
begin
  if to_regclass('public.refunds') is not null or to_regclass('public.mandates') is not null then
    raise exception 'undo 007_billing_ledger before 001_tenancy: its tables reference plans, workspaces and users';
  end if;
  if to_regclass('public.plan_usage') is not null
     or exists (select 1 from information_schema.columns
                where table_schema = 'public' and table_name = 'plans' and column_name = 'rebuilds_per_day') then
    raise exception 'undo 006_subscription_lifecycle before 001_tenancy: it extends plans and references workspaces';
  end if;
  if to_regprocedure('public.is_workspace_member(uuid)') is not null
     or exists (
       select 1 from pg_policies
       where schemaname = 'public' and tablename in ('plans', 'users', 'workspaces', 'workspace_members')
     ) then
    raise exception 'undo 005_rls_policies before 001_tenancy: policies and is_workspace_member still use its tables';
  end if;
  if to_regclass('public.onboarding_sessions') is not null
     or to_regprocedure('public.users_onboarding_status_guard()') is not null then
    raise exception 'undo 004_onboarding_status before 001_tenancy: it extends users and references workspaces';
  end if;
  if to_regclass('public.business_contexts') is not null
     or to_regclass('public.bcm_manifests') is not null
     or to_regclass('public.bcm_jobs') is not null then
    raise exception 'undo 003_bcm_storage before 001_tenancy: its tables reference workspaces and users';
  end if;
  if to_regclass('public.payment_transactions') is not null
     or to_regclass('public.subscriptions') is not null
     or to_regclass('public.idempotency_keys') is not null
     or to_regprocedure('public.payment_transactions_guard()') is not null then
    raise exception 'undo 002_payments before 001_tenancy: its tables reference plans, workspaces and users';
  end if;
end
$$;

-- ------------------------------------------------------ auth.users hooks ----
-- auth.users itself belongs to Supabase: only the triggers 001 added go.
drop trigger if exists sync_public_user_email on auth.users;
drop trigger if exists provision_public_user on auth.users;
drop function if exists public.handle_auth_user_email_change();
drop function if exists public.handle_new_auth_user();
drop function if exists public.provision_user(uuid, text, jsonb);

-- --------------------------------------------------------------- tables ----
-- Referencing tables first; indexes, constraints, triggers and the seed rows
-- go with each table.
drop table if exists public.workspace_members;
drop table if exists public.workspaces;
drop table if exists public.users;
drop table if exists public.plans;

-- Last: the users trigger above called it.
drop function if exists public.set_updated_at();
