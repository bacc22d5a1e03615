-- Onboarding: the user's forward-only onboarding_status and the onboarding
-- session ledger (status and progress; drafts themselves live in Firestore).
-- RLS is enabled here; policies and grants: 005.

-- ------------------------------------------------ users.onboarding_status ----
alter table public.users
  add column onboarding_status text not null default 'pending',
  add column onboarding_completed_at timestamptz null,
  add constraint users_onboarding_status_known check (
    onboarding_status in ('pending', 'payment_confirmed', 'in_progress', 'completed', 'abandoned')
  );

create index users_onboarding_status_idx on public.users (onboarding_status);

-- pending -> payment_confirmed -> in_progress -> completed; any unfinished
-- state -> abandoned; abandoned -> in_progress (resume).  Same state: no-op.
-- Anything else is a backward move and raises.
create or replace function public.users_onboarding_status_guard() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.onboarding_status is distinct from old.onboarding_status and not (
       (old.onboarding_status = 'pending' and new.onboarding_status in ('payment_confirmed', 'abandoned'))
    or (old.onboarding_status = 'payment_confirmed' and new.onboarding_status in ('in_progress', 'abandoned'))
    or (old.onboarding_status = 'in_progress' and new.onboarding_status in ('completed', 'abandoned'))
    or (old.onboarding_status = 'abandoned' and new.onboarding_status = 'in_progress')
  ) then
    raise exception 'users: illegal onboarding_status transition % -> %',
      old.onboarding_status, new.onboarding_status;
  end if;
  if new.onboarding_status = 'completed' and old.onboarding_status <> 'completed'
     and new.onboarding_completed_at is null then
    new.onboarding_completed_at := now();
  end if;
  return new;
end;
$$;

create trigger users_onboarding_status_guard
  before update of onboarding_status on public.users
  for each row execute function public.users_onboarding_status_guard();

-- -------------------------------------------------- onboarding_sessions ----
create table public.onboarding_sessions (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  user_id uuid not null references public.users (id) on delete cascade,
  status text not null default 'active',
  steps_complete int not null default 0,
  steps_total int not null default 23,
  percent numeric(5, 2) not null default 0,
  last_saved_at timestamptz null,
  finalized_at timestamptz null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint onboarding_sessions_status_known check (status in ('active', 'finalized', 'abandoned')),
  constraint onboarding_sessions_steps_range check (
    steps_total > 0 and steps_complete between 0 and steps_total
  ),
  constraint onboarding_sessions_percent_range check (percent between 0 and 100)
);
alter table public.onboarding_sessions enable row level security;
-- One active session per workspace.
create unique index onboarding_sessions_one_active_idx on public.onboarding_sessions (workspace_id)
  where status = 'active';
create index onboarding_sessions_workspace_id_idx on public.onboarding_sessions (workspace_id, created_at desc);
create index onboarding_sessions_user_id_idx on public.onboarding_sessions (user_id);
-- The expiry sweep: active sessions not saved for longest.
create index onboarding_sessions_stale_idx on public.onboarding_sessions (last_saved_at nulls first)
  where status = 'active';

-- active -> finalized | abandoned; abandoned -> active (resume); finalized is final.
create or replace function public.onboarding_sessions_guard() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.status is distinct from old.status and not (
       (old.status = 'active' and new.status in ('finalized', 'abandoned'))
    or (old.status = 'abandoned' and new.status = 'active')
  ) then
    raise exception 'onboarding_sessions: illegal status transition % -> %', old.status, new.status;
  end if;
  if new.status = 'finalized' and old.status <> 'finalized' and new.finalized_at is null then
    new.finalized_at := now();
  end if;
  return new;
end;
$$;

create trigger onboarding_sessions_guard
  before update of status on public.onboarding_sessions
  for each row execute function public.onboarding_sessions_guard();

create trigger onboarding_sessions_set_updated_at
  before update on public.onboarding_sessions
  for each row execute function public.set_updated_at();

-- business_contexts.session_id (003) can point here now.
alter table public.business_contexts
  add constraint business_contexts_session_id_fkey
  foreign key (session_id) references public.onboarding_sessions (id) on delete set null;

revoke all on function public.users_onboarding_status_guard() from public, anon, authenticated;
revoke all on function public.onboarding_sessions_guard() from public, anon, authenticated;
