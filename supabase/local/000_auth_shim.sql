-- Local stand-in for what Supabase provides before any project migration runs:
-- the API roles, the `auth` schema with `auth.users`, and the `auth.uid()` /
-- `auth.jwt()` / `auth.role()` helpers reading `request.jwt.claims` exactly as
-- Supabase (PostgREST) sets them.  Also mirrors Supabase's default privileges
-- on `public` (every new table granted to anon/authenticated/service_role), so
-- the migrations' own revokes are exercised locally too.
--
-- Applied by devtools/db/migrate.py only with local_shim=True, before the
-- migrations, on every run: everything here is idempotent.  NEVER apply this
-- to a real Supabase project (those objects exist there and are managed).

-- Roles are cluster-wide: another database of the same cluster may have made
-- them already (or be making them right now), hence the duplicate_object guard.
do $$
begin
  begin
    create role anon nologin noinherit;
  exception when duplicate_object then null;
  end;
  begin
    create role authenticated nologin noinherit;
  exception when duplicate_object then null;
  end;
  begin
    create role service_role nologin noinherit bypassrls;
  exception when duplicate_object then null;
  end;
end
$$;

create schema if not exists auth;

create table if not exists auth.users (
  id uuid primary key default gen_random_uuid(),
  aud varchar(255) default 'authenticated',
  role varchar(255) default 'authenticated',
  email varchar(255),
  phone text,
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb default '{}'::jsonb,
  raw_user_meta_data jsonb default '{}'::jsonb,
  is_anonymous boolean not null default false,
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant usage on schema auth to anon, authenticated, service_role;
grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to anon, authenticated, service_role;
grant all on table auth.users to service_role;

-- Supabase's defaults on the public schema.
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
