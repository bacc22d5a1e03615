-- BCM storage: the finalized business_context documents, every manifest
-- version (the origin tier of the BCM cache) and the rebuild job ledger.
-- RLS is enabled here; policies and grants: 005.

-- --------------------------------------------------- business_contexts ----
create table public.business_contexts (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  -- One context per finalized onboarding session (FK added by 004, which
  -- creates onboarding_sessions); null for contexts not made by a session.
  session_id uuid null,
  schema_version text not null,
  document jsonb not null,
  checksum text not null,
  created_at timestamptz not null default now(),
  constraint business_contexts_session_id_key unique (session_id),
  constraint business_contexts_document_object check (jsonb_typeof(document) = 'object')
);
alter table public.business_contexts enable row level security;
create index business_contexts_workspace_id_idx on public.business_contexts (workspace_id, created_at desc);

-- -------------------------------------------------------- bcm_manifests ----
create table public.bcm_manifests (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  version text not null,
  major int not null,
  minor int not null,
  patch int not null,
  checksum text not null,
  token_count int not null,
  manifest jsonb not null,
  source text not null,
  change text not null,
  business_context_id uuid null references public.business_contexts (id) on delete set null,
  created_at timestamptz not null default now(),
  constraint bcm_manifests_workspace_id_version_key unique (workspace_id, version),
  constraint bcm_manifests_semver_nonnegative check (major >= 0 and minor >= 0 and patch >= 0),
  constraint bcm_manifests_version_matches check (version = major || '.' || minor || '.' || patch),
  constraint bcm_manifests_checksum_sha256 check (checksum ~ '^[0-9a-f]{64}$'),
  constraint bcm_manifests_token_count_nonnegative check (token_count >= 0),
  constraint bcm_manifests_manifest_object check (jsonb_typeof(manifest) = 'object'),
  constraint bcm_manifests_source_known check (source in ('onboarding', 'rebuild', 'edit')),
  constraint bcm_manifests_change_known check (change in ('initial', 'major', 'minor', 'patch'))
);
alter table public.bcm_manifests enable row level security;
-- "The latest version of a workspace": ordered numerically, not as text.
create index bcm_manifests_latest_idx on public.bcm_manifests (workspace_id, major desc, minor desc, patch desc);
-- "Is there already a version with this content?"
create index bcm_manifests_checksum_idx on public.bcm_manifests (workspace_id, checksum);
create index bcm_manifests_business_context_id_idx on public.bcm_manifests (business_context_id)
  where business_context_id is not null;

-- ------------------------------------------------------------- bcm_jobs ----
create table public.bcm_jobs (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  kind text not null default 'rebuild',
  status text not null default 'queued',
  source_checksum text not null,
  reason text null,
  error text null,
  result_version text null,
  requested_by uuid null references public.users (id) on delete set null,
  created_at timestamptz not null default now(),
  started_at timestamptz null,
  finished_at timestamptz null,
  constraint bcm_jobs_status_known check (status in ('queued', 'running', 'succeeded', 'failed', 'skipped'))
);
alter table public.bcm_jobs enable row level security;
-- At most one open job per workspace and source content: a second request for
-- the same rebuild collides here instead of queueing duplicate work.
create unique index bcm_jobs_open_unique_idx on public.bcm_jobs (workspace_id, source_checksum)
  where status in ('queued', 'running');
create index bcm_jobs_workspace_id_idx on public.bcm_jobs (workspace_id, created_at desc);
create index bcm_jobs_requested_by_idx on public.bcm_jobs (requested_by) where requested_by is not null;
