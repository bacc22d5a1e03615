-- UNDO 004_onboarding_status: users.onboarding_status and
-- users.onboarding_completed_at (with their check, index and transition
-- trigger), the onboarding_sessions table (with its indexes, guard and
-- updated_at triggers) and the business_contexts.session_id foreign key.
--
-- Data lost: every user's onboarding_status and onboarding_completed_at, and
-- every onboarding_sessions row.  business_contexts rows stay, but their
-- session_id is set to null (the sessions it named are gone; this is what
-- the foreign key's "on delete set null" would have done, and it lets a
-- later re-apply of 004 add the key again).  Drafts in Firestore are not
-- touched.  Export first, e.g.:
--   pg_dump "$DATABASE_URL" --data-only --table=public.onboarding_sessions > onboarding_sessions.sql
--   psql "$DATABASE_URL" -c "\copy (select id, onboarding_status, onboarding_completed_at from public.users) to 'onboarding_status.csv' csv header"
--   psql "$DATABASE_URL" -c "\copy (select id, session_id from public.business_contexts where session_id is not null) to 'context_sessions.csv' csv header"
-- Prerequisites: 005 undone (refused otherwise: its policy reads
-- onboarding_sessions).
-- Runs in one transaction (the migration runner wraps each file; by hand:
-- psql --single-transaction -v ON_ERROR_STOP=1 -f ...).  Idempotent.

do $$
begin
  if exists (select 1 from pg_policies where schemaname = 'public' and tablename = 'onboarding_sessions') then
    raise exception 'undo 005_rls_policies before 004_onboarding_status: a policy still reads onboarding_sessions';
  end if;
end
$$;

-- ------------------------------------------------- onboarding_sessions ----
alter table if exists public.business_contexts
  drop constraint if exists business_contexts_session_id_fkey;
do $$
begin
  if to_regclass('public.business_contexts') is not null then
    update public.business_contexts set session_id = null where session_id is not null;
  end if;
end
$$;

-- Its indexes and triggers go with it.
drop table if exists public.onboarding_sessions;
drop function if exists public.onboarding_sessions_guard();

-- ------------------------------------------------ users.onboarding_status ----
drop trigger if exists users_onboarding_status_guard on public.users;
drop function if exists public.users_onboarding_status_guard();
drop index if exists public.users_onboarding_status_idx;
alter table if exists public.users
  drop constraint if exists users_onboarding_status_known,
  drop column if exists onboarding_completed_at,
  drop column if exists onboarding_status;
