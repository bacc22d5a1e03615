"""Every limit the step schemas enforce, in one place.

Each bound exists so that one step stays small enough to autosave on every
keystroke (Firestore document, Redis hot cache) and to feed an AI prompt, and
so that a hostile client cannot make the backend hold or process unbounded data.
"""

from __future__ import annotations

TOTAL_STEPS = 23  # the onboarding has exactly 23 steps (docs/domain.md)
MAX_STEP_BYTES = 256 * 1024  # a whole step payload, serialized as compact UTF-8 JSON (docs/domain.md)

# --- strings (lengths after trimming) -------------------------------------------------------
ID_MAX = 64  # ids are client/AI generated slugs or UUIDs (36 chars) with room for a prefix
TAG_MAX = 40  # tags, tone words, units: one or two words
NAME_MAX = 120  # names, titles, labels, roles: one line a person reads at a glance
GUARDRAIL_MAX = 200  # a do or a don't (docs/domain.md: each <= 200 chars)
SOUNDBITE_MAX = 280  # a soundbite fits a tweet (docs/domain.md: text <= 280)
SENTENCE_MAX = 300  # one sentence: a promise, a reason, a headline, a goal
POSITIONING_STATEMENT_MAX = 600  # docs/domain.md: statement <= 600
PARAGRAPH_MAX = 1000  # a description or rationale; company description is 20-1000 chars (docs/domain.md)
NOTES_MAX = 2000  # free-form notes at the final review
DOCUMENT_MAX = 10_000  # an evidence note or quote: 50 of them still fit 256 KiB with little else
URL_MAX = 2048  # the de-facto browser limit for a URL
STORAGE_PATH_MAX = 1024  # Cloud Storage object names are at most 1024 bytes
CURRENCY_LEN = 3  # ISO 4217 code
DESCRIPTION_MIN = 20  # company description needs a sentence to be useful (docs/domain.md)

# --- lists ---------------------------------------------------------------------------------
EVIDENCE_MAX = 50  # docs/domain.md
FACTS_MAX = 200  # docs/domain.md
INSIGHTS_MAX = 100  # docs/domain.md
ISSUES_MAX = 100  # contradictions among at most 200 facts; more is noise nobody resolves
TRUTH_ENTRIES_MAX = 200  # one entry per fact at most
TAGS_MAX = 20  # tags on one evidence item
REFS_MAX = 50  # ids referenced by one fact or issue
ITEMS_MAX = 50  # ordinary lists a user fills by hand (alternatives, capabilities, tasks...)
SHORT_LIST_MAX = 20  # lists of short phrases inside one item (pain points, goals, subheads...)
TIERS_MAX = 10  # pricing tiers on one offer
COMPETITORS_MAX = 30  # names detected by research or plotted on the map
ICP_PROFILES_MAX = 3  # docs/domain.md: profiles[1..3]
GUARDRAILS_MAX = 30  # dos, and separately don'ts
SOUNDBITES_MAX = 30  # soundbites drafted and approved
CHANNELS_MAX = 30  # channels considered
KPIS_MAX = 30  # KPIs tracked
GOALS_MAX = 20  # goals per horizon
FACTS_COMPLETE_MIN = 3  # docs/domain.md: >= 3 facts verified or edited

# --- numbers ---------------------------------------------------------------------------------
FOUNDED_YEAR_MIN = 1800  # older than any plausible customer of this product
FOUNDED_YEAR_MAX = 2100  # the domain has no clock; an upper sanity bound instead of "this year"
TEAM_SIZE_MAX = 10_000_000  # larger than any employer on earth
MONEY_MAX = 1e18  # market sizes in major currency units (INR lakh crore fit comfortably)
KPI_TARGET_ABS_MAX = 1e15  # a KPI target is any finite number, within reason
MAP_MIN, MAP_MAX = 0, 100  # perceptual map coordinates (docs/domain.md)
LEVEL_MIN, LEVEL_MAX = 1, 5  # sophistication and awareness stage (docs/domain.md)
