-- Tenancy: plans, users (mirroring auth.users), workspaces and memberships,
-- plus the sign-up trigger that provisions a new user's first workspace.
-- RLS is enabled here as each table is created (Supabase grants new public
-- tables to anon/authenticated by default); policies and grants: 005.

-- Shared: keep updated_at honest without trusting callers.
create or replace function public.set_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

-- ---------------------------------------------------------------- plans ----
create table public.plans (
  id text primary key,
  name text not null,
  monthly_paise bigint null,
  annual_paise bigint null,
  purchasable boolean not null default false,
  sort int not null default 0,
  constraint plans_id_known check (id in ('free', 'starter', 'growth', 'enterprise')),
  constraint plans_monthly_paise_nonnegative check (monthly_paise is null or monthly_paise >= 0),
  constraint plans_annual_paise_nonnegative check (annual_paise is null or annual_paise >= 0),
  -- A plan sold online must have a price for both periods.
  constraint plans_purchasable_priced check (
    not purchasable or (monthly_paise is not null and annual_paise is not null)
  )
);
alter table public.plans enable row level security;

insert into public.plans (id, name, monthly_paise, annual_paise, purchasable, sort) values
  ('free', 'Free', 0, 0, true, 0),
  ('starter', 'Starter', 99900, 999000, true, 1),
  ('growth', 'Growth', 249900, 2499000, true, 2),
  ('enterprise', 'Enterprise', null, null, false, 3)
on conflict (id) do nothing;

-- ---------------------------------------------------------------- users ----
create table public.users (
  id uuid primary key references auth.users (id) on delete cascade,
  email text,
  full_name text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
  -- onboarding_status / onboarding_completed_at: added by 004.
);
alter table public.users enable row level security;
create index users_email_idx on public.users (lower(email));

create trigger users_set_updated_at
  before update on public.users
  for each row execute function public.set_updated_at();

-- ----------------------------------------------------------- workspaces ----
create table public.workspaces (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  owner_id uuid not null references public.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  constraint workspaces_name_length check (char_length(name) between 1 and 200)
);
alter table public.workspaces enable row level security;
create index workspaces_owner_id_idx on public.workspaces (owner_id);

create table public.workspace_members (
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  user_id uuid not null references public.users (id) on delete cascade,
  role text not null default 'member',
  created_at timestamptz not null default now(),
  primary key (workspace_id, user_id),
  constraint workspace_members_role_known check (role in ('owner', 'admin', 'member'))
);
alter table public.workspace_members enable row level security;
-- The primary key serves lookups by workspace; this one serves "my workspaces".
create index workspace_members_user_id_idx on public.workspace_members (user_id);

-- -------------------------------------------------------------- sign-up ----
-- Provision a user: the users row, "<name>'s Workspace" (name = full_name or
-- the email's local part) and an owner membership.  Idempotent: a user who
-- already has a users row is left alone.  Security definer because GoTrue
-- inserts into auth.users as supabase_auth_admin, which has no rights on
-- public tables; the empty search_path keeps it from resolving foreign objects.
create or replace function public.provision_user(p_id uuid, p_email text, p_meta jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_full_name text;
  v_display text;
  v_workspace_id uuid;
begin
  v_full_name := nullif(btrim(coalesce(p_meta ->> 'full_name', p_meta ->> 'name', '')), '');
  v_display := coalesce(v_full_name, nullif(split_part(coalesce(p_email, ''), '@', 1), ''));

  insert into public.users (id, email, full_name)
  values (p_id, p_email, v_full_name)
  on conflict (id) do nothing;
  if not found then
    return;
  end if;

  insert into public.workspaces (name, owner_id)
  values (
    case when v_display is null then 'My Workspace'
         else left(v_display, 180) || '''s Workspace' end,
    p_id
  )
  returning id into v_workspace_id;

  insert into public.workspace_members (workspace_id, user_id, role)
  values (v_workspace_id, p_id, 'owner');
end;
$$;

create or replace function public.handle_new_auth_user() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.provision_user(new.id, new.email, coalesce(new.raw_user_meta_data, '{}'::jsonb));
  return new;
end;
$$;

create trigger provision_public_user
  after insert on auth.users
  for each row execute function public.handle_new_auth_user();

-- Keep the mirrored email in step when the user changes it in Supabase Auth.
create or replace function public.handle_auth_user_email_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.users set email = new.email where id = new.id;
  return new;
end;
$$;

create trigger sync_public_user_email
  after update of email on auth.users
  for each row
  when (old.email is distinct from new.email)
  execute function public.handle_auth_user_email_change();

-- Only the owner (and the triggers) may call these; never the API roles.
revoke all on function public.provision_user(uuid, text, jsonb) from public, anon, authenticated;
revoke all on function public.handle_new_auth_user() from public, anon, authenticated;
revoke all on function public.handle_auth_user_email_change() from public, anon, authenticated;
revoke all on function public.set_updated_at() from public, anon, authenticated;

-- Users who signed up before this migration (a project that already has
-- auth.users rows) get the same provisioning.
select public.provision_user(u.id, u.email, coalesce(u.raw_user_meta_data, '{}'::jsonb))
from auth.users u
where not exists (select 1 from public.users p where p.id = u.id);
