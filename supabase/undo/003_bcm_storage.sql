-- UNDO 003_bcm_storage: the business_contexts, bcm_manifests and bcm_jobs
-- tables with their constraints and indexes.
--
-- Data lost: every finalized business context, EVERY BCM manifest version
-- (the origin tier of the BCM cache: the Redis/Firestore copies become
-- orphans and must be flushed) and the rebuild job ledger.  Export first:
--   pg_dump "$DATABASE_URL" --data-only --table=public.business_contexts \
--     --table=public.bcm_manifests --table=public.bcm_jobs > bcm.sql
-- Prerequisites: 005 undone (its policies read these tables) and 004 undone
-- (its foreign key hangs on business_contexts); refused otherwise.
-- Runs in one transaction (the migration runner wraps each file; by hand:
-- psql --single-transaction -v ON_ERROR_STOP=1 -f ...).  Idempotent.

do $$
begin
  if exists (
    select 1 from pg_policies
    where schemaname = 'public' and tablename in ('business_contexts', 'bcm_manifests', 'bcm_jobs')
  ) then
    raise exception 'undo 005_rls_policies before 003_bcm_storage: policies still read its tables';
  end if;
  if to_regclass('public.onboarding_sessions') is not null then
    raise exception 'undo 004_onboarding_status before 003_bcm_storage: its foreign key hangs on business_contexts';
  end if;
end
$$;

-- Referencing table first; indexes and constraints go with each table.
drop table if exists public.bcm_manifests;
drop table if exists public.bcm_jobs;
drop table if exists public.business_contexts;
