-- Row level security for the frontend's direct (PostgREST / supabase-js)
-- access.  The backend connects as a privileged role (service_role on
-- Supabase, which has BYPASSRLS; postgres locally) and is not affected.
--
-- Rules:
-- * RLS is enabled on every public table (001-004 did it at creation).  It is
--   not FORCED: forcing binds only the table owner (postgres), which runs the
--   migrations and owns the security definer helpers below; no API role owns
--   a table, so forcing would add risk (the sign-up trigger, the membership
--   helper) and no protection.
-- * One policy per command, always `to authenticated`, user id read once per
--   statement via `(select auth.uid())`.  A command with no policy is denied.
-- * Grants back the policies: anon gets nothing at all; authenticated gets
--   SELECT where a policy allows reading and UPDATE (full_name) on its own
--   users row; everything else is written only by the backend.
-- * Membership checks go through public.is_workspace_member (security
--   definer, fixed search_path) so the workspace_members policy does not
--   recurse into itself.

-- --------------------------------------------------------------- helper ----
create or replace function public.is_workspace_member(ws uuid) returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1
    from public.workspace_members m
    where m.workspace_id = ws
      and m.user_id = (select auth.uid())
  )
$$;

revoke all on function public.is_workspace_member(uuid) from public, anon;
grant execute on function public.is_workspace_member(uuid) to authenticated, service_role;

-- --------------------------------------------------------------- grants ----
-- Undo Supabase's default "everything to anon and authenticated" for the
-- tables made so far, then grant back exactly what the policies allow.
revoke all on all tables in schema public from anon, authenticated;
revoke all on all sequences in schema public from anon, authenticated;
grant all on all tables in schema public to service_role;
grant all on all sequences in schema public to service_role;

grant select on
  public.plans,
  public.users,
  public.workspaces,
  public.workspace_members,
  public.subscriptions,
  public.payment_transactions,
  public.onboarding_sessions,
  public.business_contexts,
  public.bcm_manifests,
  public.bcm_jobs
to authenticated;
-- A user may rename themself; nothing else on the row (onboarding_status is
-- moved by the backend only).
grant update (full_name) on public.users to authenticated;

-- ---------------------------------------------------------------- plans ----
-- The price list: readable by any signed-in user; written by migrations only.
create policy plans_select on public.plans
  for select to authenticated
  using (true);

-- ---------------------------------------------------------------- users ----
create policy users_select on public.users
  for select to authenticated
  using (id = (select auth.uid()));
create policy users_update on public.users
  for update to authenticated
  using (id = (select auth.uid()))
  with check (id = (select auth.uid()));
-- insert: only the sign-up trigger; delete: only via auth.users (cascade).

-- ----------------------------------------------------------- workspaces ----
create policy workspaces_select on public.workspaces
  for select to authenticated
  using (public.is_workspace_member(id));
-- insert/update/delete: backend only.

-- ---------------------------------------------------- workspace_members ----
-- Members see who else is in their workspaces.
create policy workspace_members_select on public.workspace_members
  for select to authenticated
  using (public.is_workspace_member(workspace_id));
-- insert/update/delete: backend only (role changes must be authorised there).

-- -------------------------------------------------------- subscriptions ----
create policy subscriptions_select on public.subscriptions
  for select to authenticated
  using (public.is_workspace_member(workspace_id));

-- ------------------------------------------------- payment_transactions ----
-- A user sees the orders they placed; writes are the backend's (prices come
-- from the server, never from the client).
create policy payment_transactions_select on public.payment_transactions
  for select to authenticated
  using (user_id = (select auth.uid()));

-- ------------------------------------------------- onboarding_sessions ----
create policy onboarding_sessions_select on public.onboarding_sessions
  for select to authenticated
  using (public.is_workspace_member(workspace_id));

-- ---------------------------------------------------- business_contexts ----
create policy business_contexts_select on public.business_contexts
  for select to authenticated
  using (public.is_workspace_member(workspace_id));

-- -------------------------------------------------------- bcm_manifests ----
create policy bcm_manifests_select on public.bcm_manifests
  for select to authenticated
  using (public.is_workspace_member(workspace_id));

-- ------------------------------------------------------------- bcm_jobs ----
create policy bcm_jobs_select on public.bcm_jobs
  for select to authenticated
  using (public.is_workspace_member(workspace_id));

-- webhook_events, email_outbox, idempotency_keys: RLS on, no policy, no
-- grant: invisible to anon and authenticated; backend only.
