// The local console: the reference frontend of the founder's journey, against the functions mounted on
// this port. Plain browser JavaScript, no build step, no library. Every call shows up in "Requests".
//
// Stable affordances (browser tests rely on these; keep them). Names are accessible names, matched
// exactly (Playwright: getByRole(role, { name, exact: true }); "Pay" is also a word of other names).
//   Sign in     textbox "Email", textbox "Full name (optional)", button "Sign in", button "Sign out"; #who
//   Pay         combobox "Plan", combobox "Billing period", checkbox "Renew with UPI AutoPay", button "Pay",
//               link "Open checkout", button "Try again" (after FAILED/EXPIRED), #pay-state (the order's state
//               word: PENDING, COMPLETED, FAILED...), buttons "Approve mandate and pay", "Decline"
//   Billing     buttons "Show plan", "Cancel at period end", "Resume", "Schedule change", "+1 day", "+7 days",
//               "+30 days", "Back to now"; #billing-summary; table "Transactions"; "Open receipt <number>"
//   Onboarding  button "Start / resume session"; progressbar "Onboarding progress" (aria-valuenow = percent);
//               navigation "Onboarding steps" holding one button per step named by its title exactly
//               ("Company profile", ..., "Final review"; aria-current="step" on the open one), beside it
//               #step-status-<n> (empty, draft or complete, then ", AI <status>" once asked);
//               #step-closed shows once the session is finalized (every control of the form disabled);
//               #step-title, #step-version ("Version <n>"); #save-status reads "Not saved yet" (a step
//               never saved), "Unsaved changes", "Saving…", "Saved" or "Error"; form #step-form: every control labelled by its field's title
//               ("Name", "Industry", "Stage"...; rows "<Field> <n>"), buttons "Add <field>", "Remove <field> <n>";
//               an invalid field has aria-invalid="true" and its message in .field-error; #step-errors
//               (role=alert) lists them; buttons "Save as complete", "Ask AI" (only steps with an AI task),
//               "Edit as JSON" (toggle, aria-pressed; textbox "Step data as JSON"), "Load the latest" (after a
//               version conflict); AI panel #ai-panel, #ai-status, button "Apply" (fills empty fields only)
//   Finalize    button "Finalize"; #finalize-out
//   Dashboard   button "Refresh dashboard"; #bcm-indicator, #bcm-version ("v1.0.0"), #bcm-freshness ("fresh",
//               "stale" or "rebuilding"); #icp-out; combobox "Recommendations for", button "Get
//               recommendations", #reco-out; textbox "Text to check", button "Check guardrails", #guard-out;
//               #bcm-out holds the manifest's "as JSON" disclosure (its <pre> is the API's body)
//   Settings    buttons "Rebuild", "Export JSON", "Export Markdown", "Refresh history"; #export-status
//               (names the file); table "Version history"; dialog "Rebuild the manifest" with textbox
//               "Reason (optional)", buttons "Start rebuild", "Close", progressbar "Rebuild progress",
//               #rebuild-status ("Queued…", "Running…", "Done: ...", "Failed ...")
//   Anything raw sits behind a disclosure named "as JSON".
"use strict";

const AUTOSAVE_MS = 800; // a pause in typing this long saves a draft
const POLL_MS = 1500; // payment status and AI polling interval
const AI_POLLS = 40; // then stop asking (the task has 3 attempts of 30 s at most)
const REBUILD_POLLS = 60;
const TEXTAREA_FROM = 300; // strings allowed to be longer than this get a textarea

const state = {
  token: localStorage.getItem("bcm.token"),
  email: localStorage.getItem("bcm.email"),
  workspaceId: localStorage.getItem("bcm.workspace"),
  sessionId: localStorage.getItem("bcm.session"),
  catalogue: [],
  session: null,
  step: null, // the open step (the session's copy)
  draft: null, // what the form holds for it
  dirty: false,
  saving: false,
  timer: null,
  jsonMode: false,
  fields: new Map(), // "a.0.b" -> {control, error, wrap}
  aiPolling: false,
  manifest: null,
};

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
};
let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

function log(method, path, status, ms) {
  const li = el("li", { class: "s" + String(status)[0], text: `${method} ${path} -> ${status} (${ms} ms)` });
  $("log").prepend(li);
}

async function api(method, path, body, opts = {}) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
  const started = performance.now();
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    log(method, path, 0, Math.round(performance.now() - started));
    return { status: 0, data: { title: "Network error", detail: String(e) } };
  }
  const text = await res.text();
  log(method, path, res.status, Math.round(performance.now() - started));
  if (res.status === 401 && state.token) $("who").textContent = `${state.email}: the sign-in has expired, sign in again`;
  let data = text;
  try { data = JSON.parse(text); } catch (_) { /* not JSON */ }
  return { status: res.status, data };
}

function remember(key, value) {
  if (value) localStorage.setItem(key, value); else localStorage.removeItem(key);
}

// --- showing values: readable first, raw only behind "as JSON" ----------------------------------
const ACRONYMS = { icp: "ICP", icps: "ICPs", kpi: "KPI", kpis: "KPIs", uvp: "UVP", tam: "TAM", sam: "SAM", som: "SOM", url: "URL", ai: "AI", dos: "Do", donts: "Don't" };
const humanize = (key) => ACRONYMS[key] || String(key).replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

function asJson(value) {
  // The <pre> scrolls when long: focusable, so a keyboard can scroll it too.
  return el("details", { class: "as-json" }, el("summary", { text: "as JSON" }), el("pre", { tabindex: "0", text: JSON.stringify(value, null, 2) }));
}

function isEmpty(v) {
  return v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0) ||
    (typeof v === "object" && !Array.isArray(v) && Object.values(v).every(isEmpty));
}

// Objects as definition lists, lists as lists, nothing empty.
function renderValue(value) {
  if (value === null || value === undefined || value === "") return el("span", { class: "hint", text: "—" });
  if (Array.isArray(value)) {
    const items = value.filter((v) => !isEmpty(v));
    if (!items.length) return el("span", { class: "hint", text: "—" });
    return el("ul", {}, items.map((v) => el("li", {}, renderValue(v))));
  }
  if (typeof value === "object") {
    // {name, and a scalar or two}: one line, "LinkedIn (primary)".
    const rest = Object.entries(value).filter(([k, v]) => k !== "name" && !isEmpty(v));
    if (typeof value.name === "string" && rest.length <= 2 && rest.every(([, v]) => typeof v !== "object")) {
      return document.createTextNode(rest.length ? `${value.name} (${rest.map(([, v]) => String(v)).join(", ")})` : value.name);
    }
    const dl = el("dl");
    for (const [k, v] of Object.entries(value)) {
      if (isEmpty(v)) continue;
      dl.append(el("dt", { text: humanize(k) }), el("dd", {}, renderValue(v)));
    }
    return dl;
  }
  if (typeof value === "boolean") return document.createTextNode(value ? "yes" : "no");
  return document.createTextNode(String(value));
}

// A problem+json answer as text: its detail and each named field.
function problemText(status, data) {
  if (!data || typeof data !== "object") return `${status}: ${data || "no answer"}`;
  const errors = (data.errors || []).map((e) => `${e.path}: ${e.message}`).join("; ");
  return `${data.title || status}${data.detail ? ": " + data.detail : ""}${errors ? " (" + errors + ")" : ""}`;
}

function showProblem(target, status, data) {
  target.replaceChildren(el("p", { class: "error", text: problemText(status, data) }), asJson(data));
}

function renderWho() {
  $("who").textContent = state.token ? `${state.email} (workspace ${state.workspaceId})` : "signed out";
  $("signout").hidden = !state.token;
}

// --- 1. sign in -----------------------------------------------------------------------------------
$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const body = { email: form.get("email") };
  if (form.get("name")) body.name = form.get("name");
  const saved = state.token; state.token = null;
  const { status, data } = await api("POST", "/_dev/token", body);
  if (status !== 200) { state.token = saved; $("who").textContent = problemText(status, data); return; }
  if (body.email !== state.email) resetJourney();
  state.token = data.access_token; state.email = body.email; state.workspaceId = data.workspace_id;
  remember("bcm.token", state.token); remember("bcm.email", state.email); remember("bcm.workspace", state.workspaceId);
  renderWho();
});
// Another founder signs in: nothing of the previous one's journey stays on screen.
function resetJourney() {
  clearTimeout(state.timer);
  Object.assign(state, { sessionId: null, session: null, step: null, draft: null, dirty: false, manifest: null });
  remember("bcm.session", null); remember("bcm.step", null);
  $("editor").hidden = true; $("steps").replaceChildren();
  $("progress").setAttribute("aria-valuenow", "0"); $("progress").setAttribute("aria-valuetext", "no session");
  $("progress-bar").style.width = "0"; $("progress-text").textContent = "no session";
  for (const id of ["pay-out", "pay-link", "billing-out", "finalize-out", "reco-out", "guard-out", "bcm-out", "export-status"]) $(id).replaceChildren();
  $("bcm-indicator").textContent = "No manifest loaded.";
  $("icp-out").replaceChildren(el("p", { class: "hint", text: "Finalize onboarding to see the ICPs." }));
  $("history").hidden = true; $("history").parentElement.hidden = true;
}

$("signout").addEventListener("click", () => {
  for (const key of ["bcm.token", "bcm.email", "bcm.workspace", "bcm.session", "bcm.step"]) remember(key, null);
  location.reload();
});

// --- 2. pay ---------------------------------------------------------------------------------------
function renderOrder(data) {
  if (!data || typeof data !== "object" || !data.state) { $("pay-out").replaceChildren(asJson(data)); return; }
  const amount = typeof data.amount === "number" ? `, ${rupees(data.amount)}` : "";
  const what = data.plan ? `${data.plan} (${data.billing_period})` : "";
  $("pay-out").replaceChildren(
    el("p", {}, "Order ", el("code", { text: data.merchant_order_id || "" }), ` ${what}${amount}: `, el("strong", { id: "pay-state", text: data.state })),
    data.state === "COMPLETED" ? el("p", {}, el("a", { href: "#onboarding", text: "Continue to onboarding" })) : "",
    asJson(data),
  );
}

$("pay-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const body = { plan: form.get("plan"), billing_period: form.get("billing_period"), autopay: form.get("autopay") === "on" };
  const { status, data } = await api("POST", "/initiate_payment/", body, { idempotencyKey: crypto.randomUUID() });
  if (status >= 400) showProblem($("pay-out"), status, data); else renderOrder(data);
  state.mandate = status === 201 && data.merchant_subscription_id ? data.merchant_subscription_id : null;
  $("mandate-actions").hidden = !state.mandate;
  if (state.mandate) { pollPayment(data.merchant_order_id); return; }
  $("pay-link").innerHTML = "";
  if (status === 201 && data.checkout_url) {
    // Its own element: the status polls below rewrite #pay-out, never the link.
    $("pay-link").appendChild(el("a", { href: data.checkout_url, target: "_blank", text: "Open checkout" }));
    pollPayment(data.merchant_order_id);
  }
});

async function pollPayment(orderId) {
  const { status, data } = await api("GET", `/payment_status/${encodeURIComponent(orderId)}`);
  if (status === 200) renderOrder(data); else showProblem($("pay-out"), status, data);
  if (status === 200 && data.state === "PENDING") setTimeout(() => pollPayment(orderId), data.poll_after_ms || POLL_MS);
  if (status === 200 && (data.state === "FAILED" || data.state === "EXPIRED")) {
    const retry = el("button", { type: "button", text: "Try again", onclick: () => $("pay-form").requestSubmit() });
    $("pay-link").replaceChildren(`Payment ${data.state.toLowerCase()}. `, retry);
  }
}

for (const [id, action] of [["mandate-approve", "approve"], ["mandate-decline", "decline"]]) {
  $(id).addEventListener("click", async () => {
    if (!state.mandate) return;
    await api("POST", `/_dev/phonepe/mandates/${encodeURIComponent(state.mandate)}/${action}?webhook=deliver`);
    $("mandate-actions").hidden = true;
    await loadBilling();
  });
}

// --- billing --------------------------------------------------------------------------------------
const rupees = (paise) => `₹${(paise / 100).toLocaleString("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

function renderTransactions(transactions) {
  const body = $("transactions").querySelector("tbody");
  body.innerHTML = "";
  for (const t of transactions || []) {
    const row = body.insertRow();
    const what = `${t.plan} (${t.billing_period})${t.kind === "redemption" ? ", AutoPay" : t.kind === "mandate_setup" ? ", AutoPay setup" : ""}`;
    const refunded = (t.refunds || []).filter((r) => r.state === "COMPLETED").reduce((sum, r) => sum + r.amount_paise, 0);
    // The period a paid order bought (the app's clock); otherwise when it was placed (the database's).
    const when = t.period_start ? `${t.period_start.slice(0, 10)} to ${t.period_end.slice(0, 10)}` : t.created_at.slice(0, 10);
    for (const text of [when, what, rupees(t.amount_paise) + (refunded ? `, ${rupees(refunded)} refunded` : ""), t.state]) {
      row.insertCell().textContent = text;
    }
    const cell = row.insertCell();
    if (t.receipt_number) {
      const button = el("button", { type: "button", text: t.receipt_number, "aria-label": `Open receipt ${t.receipt_number}` });
      button.addEventListener("click", async () => {
        const { status, data } = await api("GET", `/billing/receipt?number=${encodeURIComponent(t.receipt_number)}`);
        if (status === 200) window.open(data.url, "_blank"); else showProblem($("billing-out"), status, data);
      });
      cell.appendChild(button);
    } else {
      cell.textContent = "-";
    }
  }
  $("transactions").hidden = !(transactions && transactions.length);
  $("transactions").parentElement.hidden = $("transactions").hidden; // its scrollable wrapper, a tab stop
}

function renderBilling(data) {
  const sub = data && data.subscription;
  if (!sub) { $("billing-summary").textContent = "No plan yet: choose one above."; $("billing-out").replaceChildren(asJson(data)); return; }
  const end = sub.current_period_end ? sub.current_period_end.slice(0, 10) : "never";
  const next = sub.next_charge_at ? `next charge ${sub.next_charge_at.slice(0, 10)} (${(sub.next_charge_paise / 100).toFixed(2)} INR)` : "no further charge";
  const cancelled = sub.cancel_at_period_end && sub.status === "active" ? ", cancelled: ends at the period end" : "";
  const change = sub.scheduled_change ? `, then ${sub.scheduled_change.plan} (${sub.scheduled_change.billing_period})` : "";
  const when = {
    active: `active until ${end}`,
    past_due: `past due since ${end}; paid features stay open until ${(sub.grace_ends_at || "").slice(0, 10)}`,
    expired: `expired on ${end}`,
    cancelled: `ended on ${end}`,
  }[sub.status] || `${sub.status} (${end})`;
  const autopay = sub.autopay ? `; UPI AutoPay ${sub.autopay.state === "ACTIVE" ? "on" : sub.autopay.state.toLowerCase()} (up to ${rupees(sub.autopay.max_amount_paise)})` : "";
  $("billing-summary").textContent = `${sub.plan} (${sub.billing_period}): ${when}${cancelled}${change}; ${next}${autopay}.`;
  renderTransactions(data.transactions);
  $("billing-out").replaceChildren(asJson(data));
}

async function loadBilling() {
  const { status, data } = await api("GET", "/billing/");
  if (status === 200) renderBilling(data); else showProblem($("billing-out"), status, data);
}

$("billing-load").addEventListener("click", loadBilling);
for (const [id, path] of [["billing-cancel", "/billing/cancel"], ["billing-resume", "/billing/resume"]]) {
  $(id).addEventListener("click", async () => {
    const { status, data } = await api("POST", path, {}, { idempotencyKey: crypto.randomUUID() });
    if (status === 200) renderBilling(data); else showProblem($("billing-out"), status, data);
  });
}
$("billing-change-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const body = { plan: form.get("plan"), billing_period: form.get("billing_period") };
  const { status, data } = await api("POST", "/billing/change", body, { idempotencyKey: crypto.randomUUID() });
  if (status === 200) renderBilling(data); else showProblem($("billing-out"), status, data);
});
for (const button of document.querySelectorAll("[data-advance]")) {
  button.addEventListener("click", async () => {
    const { status, data } = await api("POST", "/_dev/clock/advance", { days: Number(button.dataset.advance) });
    $("clock-now").textContent = data.now ? `now ${data.now.slice(0, 16)} UTC` : problemText(status, data);
    await loadBilling();
  });
}
$("fail-next-debit").addEventListener("click", async () => {
  const { status } = await api("POST", "/_dev/phonepe/_control/next-outcome?op=redeem&outcome=fail&count=1");
  $("clock-now").textContent = status === 200 ? "the next AutoPay debit will fail" : `could not arm the failure (${status})`;
});
$("clock-reset").addEventListener("click", async () => {
  const { data } = await api("POST", "/_dev/clock/reset");
  $("clock-now").textContent = data.now ? `now ${data.now.slice(0, 16)} UTC` : "";
});

// --- 3. onboarding: forms from each step's JSON Schema ---------------------------------------------
$("start-session").addEventListener("click", async () => {
  await loadCatalogue();
  const { status, data } = await api("POST", "/onboarding_step/sessions", {});
  if (status === 200 || status === 201) {
    state.sessionId = data.session_id; remember("bcm.session", state.sessionId);
    await loadSession();
    if (!state.step) {
      const first = state.session.steps.find((s) => s.status !== "complete") || state.session.steps[0];
      if (first) openStep(first);
    }
  } else {
    $("progress-text").textContent = problemText(status, data);
  }
});

async function loadCatalogue() {
  if (state.catalogue.length) return;
  const cat = await api("GET", "/onboarding_step/steps");
  if (cat.status === 200) state.catalogue = Array.isArray(cat.data) ? cat.data : cat.data.steps || [];
}

const stepNamed = (number) => state.session && state.session.steps.find((x) => x.number === number);
const specOf = (number) => state.catalogue.find((c) => c.number === number);
const closed = () => !state.session || state.session.status !== "active"; // finalized or abandoned

async function loadSession() {
  if (!state.sessionId) return;
  await loadCatalogue();
  const { status, data } = await api("GET", `/onboarding_step/sessions/${state.sessionId}`);
  if (status !== 200) { $("progress-text").textContent = problemText(status, data); return; }
  state.session = data;
  // The open step follows the fresh copy (its version above all: saving with a stale one is a 409);
  // what the founder is typing stays in the form unless nothing was typed and the step moved on.
  if (state.step) {
    const fresh = stepNamed(state.step.number);
    if (fresh) {
      const moved = fresh.version !== state.step.version;
      state.step = fresh;
      if (moved && !state.dirty && !state.saving) { state.draft = clone(fresh.data || {}); renderForm(); }
      renderStepHead();
      renderAi();
    }
  }
  renderSession();
}

function renderSession() {
  const s = state.session;
  const p = s.progress || { complete: 0, total: 23, percent: 0 };
  $("progress-bar").style.width = `${p.percent}%`;
  $("progress").setAttribute("aria-valuenow", String(p.percent));
  $("progress").setAttribute("aria-valuetext", `${p.complete} of ${p.total} steps complete`);
  $("progress-text").textContent = `${p.complete}/${p.total} steps complete (${p.percent}%), session ${s.status}`;
  const list = $("steps");
  // The list is drawn again on every save: a step button that had the focus gets it back.
  const focusedStep = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.step : null;
  list.innerHTML = "";
  for (const step of s.steps) {
    const open = state.step && state.step.number === step.number;
    const statusId = `step-status-${step.number}`;
    const ai = step.ai && step.ai.status !== "idle" ? `, AI ${step.ai.status}` : "";
    // A button named by the title alone (Tab, Enter); its status is its description.
    const button = el("button", { type: "button", "data-step": String(step.number), "aria-describedby": statusId, "aria-current": open ? "step" : null, onclick: () => { openStep(stepNamed(step.number) || step); $("step-title").focus(); } }, step.title);
    list.appendChild(el("li", { class: step.status + (open ? " active" : "") },
      el("span", { class: "num", "aria-hidden": "true", text: `${step.number}.` }), button,
      el("span", { class: "step-status", id: statusId, text: `${step.status}${ai}` })));
    if (focusedStep === String(step.number)) button.focus();
  }
  const done = closed();
  $("step-fieldset").disabled = done;
  $("step-closed").hidden = !done;
  for (const id of ["step-complete", "step-ai", "ai-apply", "json-toggle"]) $(id).disabled = done;
}

function openStep(step) {
  if (!step) return;
  if (state.step && state.dirty && state.step.number !== step.number) { clearTimeout(state.timer); saveStep(true); }
  state.step = step;
  remember("bcm.step", String(step.number));
  state.draft = clone(step.data || {});
  state.dirty = false;
  // A draft typed here but not saved before a reload is kept in the browser: restored if the step did not move on.
  const local = readLocalDraft(step.number);
  if (local && local.version === (step.version || 0) && JSON.stringify(local.data) !== JSON.stringify(step.data || {})) {
    state.draft = local.data; state.dirty = true;
  }
  $("editor").hidden = false;
  clearErrors();
  renderStepHead();
  renderForm();
  if (state.dirty) setSave("Unsaved changes", "restored from this browser");
  else if (step.version) setSave("Saved", step.updated_at ? `last saved ${step.updated_at.slice(0, 19).replace("T", " ")} UTC` : "");
  else setSave("Not saved yet", "");
  const spec = specOf(step.number);
  $("step-ai").hidden = !(spec && spec.ai_task); // only steps with an AI task offer it
  $("step-reload").hidden = true;
  renderAi();
  renderSession();
  if (state.dirty) scheduleSave();
}

function renderStepHead() {
  const step = state.step;
  $("step-title").textContent = `${step.number}. ${step.title}`;
  $("step-version").textContent = `Version ${step.version || 0}`;
  const spec = specOf(step.number);
  const when = spec && spec.schema && spec.schema["x-complete-when"];
  $("step-when").textContent = when && when.description ? `Complete when: ${when.description}.` : "";
}

// --- the schema walk --------------------------------------------------------------------------------
const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

function deref(root, ref) {
  return ref.replace(/^#\//, "").split("/").reduce((node, part) => (node ? node[part] : undefined), root) || {};
}

// {schema, nullable}: $ref followed, anyOf [X, null] read as X that may be empty.
function resolve(root, schema) {
  let s = schema || {};
  let nullable = false;
  const outer = { title: s.title, description: s.description };
  for (let i = 0; i < 10; i += 1) {
    if (s.$ref) { s = { ...deref(root, s.$ref), ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== "$ref")) }; continue; }
    if (Array.isArray(s.anyOf)) {
      const alts = s.anyOf.filter((a) => a.type !== "null");
      if (alts.length < s.anyOf.length) nullable = true;
      if (alts.length === 1) { s = { ...alts[0] }; continue; }
    }
    break;
  }
  return { schema: { ...s, title: outer.title || s.title, description: outer.description || s.description }, nullable };
}

function kindOf(s) {
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== "null") : s.type;
  if (s.enum) return "enum";
  if (t === "object" || s.properties) return "object";
  return t || "unknown";
}

const CONTROL_CHARS = /\\u0000-\\u00(1f|08)/;
function patternHint(pattern) {
  if (!pattern) return "";
  if (CONTROL_CHARS.test(pattern)) return pattern.includes("u000b") ? "no control characters except line breaks" : "one line, no control characters";
  if (pattern === "^[A-Za-z]{3}$") return "three letters (e.g. INR)";
  if (pattern === "^[A-Za-z0-9][A-Za-z0-9_.:-]*$") return "letters, digits and _ . : - (starting with a letter or digit)";
  return `format ${pattern}`;
}

function hintFor(s, kind) {
  const parts = [];
  if (s.description) parts.push(s.description.replace(/\.$/, ""));
  if (kind === "string") {
    if (s.minLength && s.maxLength) parts.push(`${s.minLength}–${s.maxLength} characters`);
    else if (s.maxLength) parts.push(`up to ${s.maxLength} characters`);
    else if (s.minLength) parts.push(`at least ${s.minLength} characters`);
    const p = patternHint(s.pattern); if (p) parts.push(p);
  }
  if (kind === "integer" || kind === "number") {
    const whole = kind === "integer" ? "a whole number" : "a number";
    if (s.minimum !== undefined && s.maximum !== undefined) parts.push(`${whole} from ${s.minimum} to ${s.maximum}`);
    else if (s.minimum !== undefined) parts.push(`${whole}, at least ${s.minimum}`);
    else if (s.maximum !== undefined) parts.push(`${whole}, at most ${s.maximum}`);
    else parts.push(whole);
  }
  if (kind === "array" && s.maxItems) parts.push(`up to ${s.maxItems}`);
  return parts.join("; ");
}

function getAt(obj, path) { return path.reduce((node, k) => (node == null ? undefined : node[k]), obj); }
function setAt(obj, path, value) {
  let node = obj;
  for (let i = 0; i < path.length - 1; i += 1) {
    const k = path[i];
    if (node[k] === null || node[k] === undefined || typeof node[k] !== "object") node[k] = typeof path[i + 1] === "number" ? [] : {};
    node = node[k];
  }
  node[path[path.length - 1]] = value;
}
const keyOf = (path) => path.join(".");

function edited(path, value) {
  setAt(state.draft, path, value);
  const f = state.fields.get(keyOf(path));
  if (f) setFieldError(f, null);
  markDirty();
}

function markDirty() {
  state.dirty = true;
  writeLocalDraft();
  setSave("Unsaved changes", "");
  scheduleSave();
}

function renderForm() {
  const spec = specOf(state.step.number);
  const form = $("step-form");
  const focusKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.path : null;
  state.fields = new Map();
  form.replaceChildren();
  if (!spec || !spec.schema) { form.append(el("p", { class: "hint", text: "No schema for this step: edit it as JSON." })); return; }
  const root = spec.schema;
  if (!state.draft || typeof state.draft !== "object" || Array.isArray(state.draft)) state.draft = {};
  for (const [key, prop] of Object.entries(root.properties || {})) form.append(field(root, prop, [key], humanize(key)));
  $("step-json").value = JSON.stringify(state.draft, null, 2);
  if (focusKey) { const target = form.querySelector(`[data-path="${CSS.escape(focusKey)}"]`); if (target) target.focus(); }
}

// One field: its label, control, hint and error message, by the schema's kind.
function field(root, raw, path, fallbackTitle) {
  const { schema: s } = resolve(root, raw);
  const kind = kindOf(s);
  const title = raw.title || fallbackTitle; // a $ref's own title names the type (Axis), not this field (X axis)
  const value = getAt(state.draft, path);
  const hint = hintFor(s, kind);
  if (kind === "object") return objectField(root, s, path, title, hint);
  if (kind === "array") return arrayField(root, s, path, title, hint);
  const id = nextId("f");
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  let control;
  const common = { id, "data-path": keyOf(path), "aria-describedby": [hintId, errorId].filter(Boolean).join(" ") };
  if (kind === "enum") {
    control = el("select", common, el("option", { value: "", text: "— not set —" }), s.enum.map((v) => el("option", { value: String(v), text: String(v).replace(/_/g, " ") })));
    control.value = value == null ? "" : String(value);
    control.addEventListener("change", () => edited(path, control.value === "" ? null : s.enum.find((v) => String(v) === control.value)));
  } else if (kind === "boolean") {
    control = el("input", { ...common, type: "checkbox" });
    control.checked = value === true;
    control.addEventListener("change", () => edited(path, control.checked));
  } else if (kind === "integer" || kind === "number") {
    control = el("input", { ...common, type: "number", inputmode: kind === "integer" ? "numeric" : "decimal", min: s.minimum, max: s.maximum, step: kind === "integer" ? "1" : "any" });
    control.value = value == null ? "" : String(value);
    control.addEventListener("input", () => {
      if (control.value === "") { edited(path, null); return; }
      const n = Number(control.value);
      if (Number.isFinite(n)) edited(path, n);
    });
  } else if (kind === "string") {
    const long = (s.maxLength || 0) > TEXTAREA_FROM && !/url|website|link|path/i.test(String(path[path.length - 1]));
    control = long ? el("textarea", { ...common, rows: 3, maxlength: s.maxLength }) : el("input", { ...common, type: "text", maxlength: s.maxLength });
    control.value = value == null ? "" : String(value);
    control.addEventListener("input", () => edited(path, control.value === "" ? null : control.value));
  } else {
    // Not a shape the form knows: this part as JSON.
    control = el("textarea", { ...common, rows: 4, spellcheck: "false" });
    control.value = value === undefined ? "" : JSON.stringify(value, null, 2);
    control.addEventListener("input", () => { try { edited(path, control.value.trim() ? JSON.parse(control.value) : null); } catch (_) { setSave("Error", "not valid JSON"); } });
  }
  const label = el("label", { for: id, text: title });
  const wrap = el("div", { class: `field field-${kind}` },
    kind === "boolean" ? el("div", { class: "check" }, control, label) : [label, control],
    hint ? el("p", { class: "hint", id: hintId, text: hint }) : null,
    el("p", { class: "field-error", id: errorId }));
  state.fields.set(keyOf(path), { control, error: wrap.lastChild, wrap, title });
  return wrap;
}

function objectField(root, s, path, title, hint) {
  const id = nextId("g");
  const errorEl = el("p", { class: "field-error", id: `${id}-error` });
  // The group's own error under its legend: a long group would hide it at the bottom.
  const box = el("fieldset", { class: "group", "aria-describedby": `${id}-error` }, el("legend", { text: title }), hint ? el("p", { class: "hint", text: hint }) : null, errorEl);
  for (const [key, prop] of Object.entries(s.properties || {})) box.append(field(root, prop, [...path, key], humanize(key)));
  state.fields.set(keyOf(path), { control: box, error: errorEl, wrap: box, title });
  return box;
}

function arrayField(root, s, path, title, hint) {
  const id = nextId("a");
  const items = getAt(state.draft, path);
  const list = Array.isArray(items) ? items : [];
  const itemSchema = resolve(root, s.items || {}).schema;
  const itemKind = kindOf(itemSchema);
  const errorEl = el("p", { class: "field-error", id: `${id}-error` });
  const box = el("fieldset", { class: "group array", "aria-describedby": `${id}-error` }, el("legend", { text: title }), hint ? el("p", { class: "hint", text: hint }) : null, errorEl);
  const rows = el("ol", { class: "rows" });
  list.forEach((_, i) => {
    const rowPath = [...path, i];
    const rowTitle = `${title} ${i + 1}`;
    const remove = el("button", { type: "button", class: "remove", text: `Remove ${rowTitle}`, onclick: () => {
      const arr = getAt(state.draft, path); arr.splice(i, 1);
      markDirty(); renderForm();
      const add = $("step-form").querySelector(`[data-add="${CSS.escape(keyOf(path))}"]`); if (add) add.focus();
    } });
    const inner = field(root, { ...s.items, title: rowTitle }, rowPath, rowTitle);
    rows.append(el("li", { class: "row-item" }, inner, remove));
  });
  const full = s.maxItems !== undefined && list.length >= s.maxItems;
  const add = el("button", { type: "button", class: "add", "data-add": keyOf(path), disabled: full, text: `Add ${title}`, onclick: () => {
    const arr = Array.isArray(getAt(state.draft, path)) ? getAt(state.draft, path) : [];
    arr.push(itemKind === "object" ? {} : null);
    setAt(state.draft, path, arr);
    markDirty(); renderForm();
    const first = $("step-form").querySelector(`[data-path^="${CSS.escape(keyOf([...path, arr.length - 1]))}"]`);
    if (first) first.focus();
  } });
  box.append(rows, add);
  state.fields.set(keyOf(path), { control: box, error: errorEl, wrap: box, title });
  return box;
}

// What is sent: list rows left blank are dropped (a blank entry is not a value).
function cleaned(value) {
  if (Array.isArray(value)) return value.filter((v) => v !== null && v !== undefined && v !== "").map(cleaned);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cleaned(v)]));
  return value;
}

// --- errors at their fields -------------------------------------------------------------------------
function setFieldError(f, message) {
  f.error.textContent = message || "";
  if (f.control.matches("input, select, textarea")) {
    if (message) f.control.setAttribute("aria-invalid", "true"); else f.control.removeAttribute("aria-invalid");
  }
  f.wrap.classList.toggle("invalid", Boolean(message));
}

function clearErrors() {
  for (const f of state.fields.values()) setFieldError(f, null);
  $("step-errors").replaceChildren();
}

function showErrors(errors) {
  clearErrors();
  const items = [];
  for (const e of errors || []) {
    const parts = String(e.path || "").split(".").filter(Boolean);
    if (parts[0] === "data") parts.shift();
    let f = null;
    for (let n = parts.length; n >= 0 && !f; n -= 1) f = state.fields.get(parts.slice(0, n).join("."));
    const message = e.message || "is invalid";
    if (f) setFieldError(f, f.error.textContent ? `${f.error.textContent}; ${message}` : message);
    const name = f ? f.title : parts.join(".") || "step";
    const target = f && (f.control.matches("input, select, textarea") ? f.control : f.control.querySelector("input, select, textarea, button"));
    const go = target ? el("button", { type: "button", class: "link", text: `${name}: ${message}`, onclick: () => target.focus() }) : `${name}: ${message}`;
    items.push(el("li", {}, go));
  }
  if (items.length) $("step-errors").replaceChildren(el("p", { text: "Please fix:" }), el("ul", {}, items));
}

// --- saving -------------------------------------------------------------------------------------------
function setSave(status, detail) {
  $("save-status").textContent = status;
  $("save-status").className = `save-${status.split(" ")[0].replace(/…$/, "").toLowerCase()}`;
  $("save-detail").textContent = detail || "";
}

function scheduleSave() {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => saveStep(true), AUTOSAVE_MS);
}

const localKey = (n) => `bcm.draft.${state.sessionId}.${n}`;
function writeLocalDraft() {
  try { localStorage.setItem(localKey(state.step.number), JSON.stringify({ version: state.step.version || 0, data: state.draft })); } catch (_) { /* full */ }
}
function readLocalDraft(n) {
  try { return JSON.parse(localStorage.getItem(localKey(n))); } catch (_) { return null; }
}

async function saveStep(draft) {
  if (!state.step || closed()) return;
  if (state.saving) { state.pending = true; if (!draft) state.pendingComplete = true; return; } // after this one
  const step = stepNamed(state.step.number) || state.step;
  const data = cleaned(state.draft);
  state.saving = true; state.dirty = false;
  setSave("Saving…", "");
  const res = await api("PUT", `/onboarding_step/sessions/${state.sessionId}/steps/${step.number}`, { data, draft, version: step.version });
  state.saving = false;
  if (!state.step || state.step.number !== step.number) {
    // The founder moved to another step meanwhile: this answer is about the one left behind.
    if (res.status === 200) {
      Object.assign(step, res.data.step || {});
      localStorage.removeItem(localKey(step.number));
      if (res.data.progress) state.session.progress = res.data.progress;
      renderSession();
    } else {
      setSave("Error", `${step.title} was not saved (${problemText(res.status, { ...res.data, errors: undefined })}): open it again to fix it`);
    }
  } else if (res.status === 200) {
    Object.assign(step, res.data.step || {});
    if (state.step.number === step.number) state.step = step;
    if (res.data.progress) state.session.progress = res.data.progress;
    const when = res.data.saved_at ? new Date(res.data.saved_at).toLocaleTimeString() : "";
    if (!state.dirty) { localStorage.removeItem(localKey(step.number)); setSave("Saved", `${draft ? "draft" : "complete"}, ${when}`); clearErrors(); }
    renderStepHead();
    renderSession();
  } else {
    state.dirty = true;
    const errors = res.data && res.data.errors;
    if (res.status === 409 && res.data && res.data.code === "version_conflict") {
      setSave("Error", `this step was saved elsewhere (now version ${res.data.current_version}): load the latest, or keep typing to overwrite it`);
      step.version = res.data.current_version;
      $("step-reload").hidden = false;
    } else {
      setSave("Error", problemText(res.status, { ...res.data, errors: undefined }));
    }
    if (Array.isArray(errors) && errors.length) showErrors(errors);
  }
  if (state.pending) {
    const complete = state.pendingComplete;
    state.pending = false; state.pendingComplete = false;
    if (state.dirty || complete) { clearTimeout(state.timer); saveStep(!complete); }
  }
}

$("step-form").addEventListener("submit", (ev) => ev.preventDefault()); // Enter in a lone field saves nothing twice
$("step-complete").addEventListener("click", () => { clearTimeout(state.timer); saveStep(false); });
$("step-reload").addEventListener("click", async () => {
  state.dirty = false; localStorage.removeItem(localKey(state.step.number));
  await loadSession();
  openStep(stepNamed(state.step.number));
});

$("json-toggle").addEventListener("click", () => {
  state.jsonMode = !state.jsonMode;
  $("json-toggle").setAttribute("aria-pressed", String(state.jsonMode));
  $("step-json-wrap").hidden = !state.jsonMode;
  $("step-form").hidden = state.jsonMode;
  if (state.jsonMode) { $("step-json").value = JSON.stringify(state.draft, null, 2); $("step-json").focus(); } else renderForm();
});
$("step-json").addEventListener("input", () => {
  try {
    const parsed = JSON.parse($("step-json").value);
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    state.draft = parsed; markDirty();
  } catch (_) { clearTimeout(state.timer); setSave("Error", "not valid JSON (an object is expected)"); }
});

// --- AI suggestions -----------------------------------------------------------------------------------
function renderAi() {
  const step = state.step;
  const spec = specOf(step.number);
  const panel = $("ai-panel");
  panel.hidden = !(spec && spec.ai_task);
  if (panel.hidden) return;
  const ai = step.ai || { status: "idle" };
  const words = { idle: "Ask AI for a suggestion.", queued: "Queued…", running: "Working…", succeeded: "Suggestion ready.", failed: `Failed: ${ai.error || "try again"}` };
  $("ai-status").textContent = words[ai.status] || ai.status;
  const suggestion = ai.status === "succeeded" ? ai.suggestion : null;
  $("ai-suggestion").replaceChildren(...(suggestion ? [renderValue(suggestion), asJson(suggestion)] : []));
  $("ai-apply").hidden = !suggestion;
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// The suggestion fills what is empty; what the founder wrote stays.
function fillEmpty(target, suggestion) {
  let filled = 0;
  for (const [k, v] of Object.entries(suggestion || {})) {
    if (isEmpty(v)) continue;
    const current = target[k];
    if (isEmpty(current)) { target[k] = clone(v); filled += 1; }
    else if (isObject(current) && isObject(v)) filled += fillEmpty(current, v);
    else if (Array.isArray(current) && Array.isArray(v)) {
      // Rows the founder started take the suggestion's row at the same place for their empty fields.
      current.forEach((row, i) => { if (isObject(row) && isObject(v[i])) filled += fillEmpty(row, v[i]); });
    }
  }
  return filled;
}

$("ai-apply").addEventListener("click", () => {
  const ai = state.step.ai;
  if (!ai || !ai.suggestion) return;
  const n = fillEmpty(state.draft, ai.suggestion);
  $("ai-status").textContent = n ? `Applied to ${n} empty field${n === 1 ? "" : "s"}.` : "Nothing applied: every suggested field already has a value.";
  if (n) { renderForm(); markDirty(); }
});

$("step-ai").addEventListener("click", async () => {
  const number = state.step.number;
  const { status, data } = await api("POST", `/onboarding_step/sessions/${state.sessionId}/steps/${number}/ai`, {});
  if (status !== 202) { $("ai-status").textContent = problemText(status, data); return; }
  $("ai-status").textContent = "Queued…";
  if (state.aiPolling) return;
  state.aiPolling = true;
  for (let i = 0; i < AI_POLLS; i += 1) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    await loadSession();
    const s = stepNamed(number);
    if (!s || !s.ai || !["queued", "running"].includes(s.ai.status)) break;
  }
  state.aiPolling = false;
});

// --- 4. finalize ----------------------------------------------------------------------------------------
$("finalize-btn").addEventListener("click", async () => {
  const out = $("finalize-out");
  if (!state.sessionId) { out.replaceChildren(el("p", { text: "Start a session first." })); return; }
  if (state.dirty) { clearTimeout(state.timer); await saveStep(true); }
  const { status, data } = await api("POST", `/finalize/${state.sessionId}`, {}, { idempotencyKey: crypto.randomUUID() }); // a per-session key would replay an early 422 for 24 h
  if (status === 200) {
    const m = data.manifest || {};
    out.replaceChildren(el("p", {}, el("strong", { text: "Finalized." }), ` Manifest v${m.version}, ${m.token_count} tokens, checksum `, el("code", { text: String(m.checksum || "").slice(0, 12) }), "."), asJson(data));
    await loadSession(); // the session reads "finalized" and the editor closes
    await loadDashboard();
    await loadHistory();
  } else {
    const incomplete = (data.errors || []).map((e) => {
      const n = Number((String(e.path).match(/(\d+)/) || [])[1]);
      const step = stepNamed(n);
      return el("li", {}, step ? el("button", { type: "button", class: "link", text: `${step.title}: ${e.message}`, onclick: () => { openStep(stepNamed(n)); $("step-title").focus(); } }) : `${e.path}: ${e.message}`);
    });
    out.replaceChildren(el("p", { class: "error", text: problemText(status, { ...data, errors: undefined }) }), incomplete.length ? el("ul", {}, incomplete) : "", asJson(data));
  }
});

// --- 5. dashboard -----------------------------------------------------------------------------------------
const ws = () => (state.workspaceId ? `workspace_id=${encodeURIComponent(state.workspaceId)}` : "");
const when = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "");

function freshnessOf(data) {
  if (data.rebuild && ["queued", "running"].includes(data.rebuild.status)) return "rebuilding";
  return data.freshness && data.freshness.stale ? "stale" : "fresh";
}

function renderIndicator(data, fallbackNote) {
  const fresh = fallbackNote ? "stale" : freshnessOf(data);
  $("bcm-indicator").replaceChildren(
    el("strong", {}, "BCM ", el("span", { id: "bcm-version", text: `v${data.version}` })), " ",
    el("span", { id: "bcm-freshness", class: `badge ${fresh}`, text: fresh }), " ",
    el("span", { class: "hint", text: `built ${when(data.created_at)} UTC, ${data.token_count} tokens, served from ${data.served_from}` }),
    fallbackNote ? el("span", { class: "note", text: ` ${fallbackNote}` }) : "",
  );
}

function renderIcps(manifest) {
  const icps = (manifest && Array.isArray(manifest.icps) ? manifest.icps : []).slice(0, 3);
  if (!icps.length) { $("icp-out").replaceChildren(el("p", { class: "hint", text: "No ICP in the manifest." })); return; }
  $("icp-out").replaceChildren(...icps.map((icp, i) => {
    const rows = [];
    for (const key of ["pains", "goals", "triggers", "channels"]) {
      const values = Array.isArray(icp[key]) ? icp[key].slice(0, 3) : [];
      if (values.length) rows.push(el("dt", { text: humanize(key) }), el("dd", { text: values.join("; ") }));
    }
    return el("article", { class: "icp" }, el("h4", { text: `${icp.name || "ICP " + (i + 1)}${icp.role ? " (" + icp.role + ")" : ""}${i === 0 ? ", primary" : ""}` }), el("dl", {}, rows));
  }));
}

async function loadDashboard() {
  const { status, data } = await api("GET", `/context/manifest?${ws()}`);
  if (status === 200) {
    state.manifest = { ...data, loaded_at: new Date().toISOString() };
    try { localStorage.setItem(`bcm.manifest.${state.workspaceId}`, JSON.stringify(state.manifest)); } catch (_) { /* full */ }
    renderIndicator(data);
    renderIcps(data.manifest);
    $("bcm-out").replaceChildren(asJson(data));
    return data;
  }
  if (status === 404) {
    $("bcm-indicator").textContent = "No manifest yet: finish onboarding and finalize.";
    return null;
  }
  // The service is unreachable or failing: the last copy this browser saw, marked stale.
  let last = state.manifest;
  if (!last) { try { last = JSON.parse(localStorage.getItem(`bcm.manifest.${state.workspaceId}`)); } catch (_) { last = null; } }
  if (last) {
    renderIndicator(last, `(showing the copy loaded ${when(last.loaded_at) || "earlier"}; the manifest could not be read: ${problemText(status, data)})`);
    renderIcps(last.manifest);
  } else {
    $("bcm-indicator").textContent = problemText(status, data);
  }
  return null;
}
$("bcm-load").addEventListener("click", loadDashboard);

$("reco-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const purpose = $("reco-for").value;
  const { status, data } = await api("GET", `/context/recommendations?${ws()}&for=${purpose}`);
  if (status !== 200) { showProblem($("reco-out"), status, data); return; }
  const { manifest_version: version, checksum, for: _for, ...rest } = data;
  $("reco-out").replaceChildren(el("p", { class: "hint", text: `For ${$("reco-for").selectedOptions[0].text}, from manifest v${version}.` }), renderValue(rest), asJson(data));
});

$("guard-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const { status, data } = await api("POST", "/context/guardrails/check", { workspace_id: state.workspaceId, text: $("guard-text").value });
  if (status !== 200) { showProblem($("guard-out"), status, data); return; }
  if (data.ok) { $("guard-out").replaceChildren(el("p", { class: "ok", text: `No violations of the manifest's don'ts (v${data.manifest_version}).` })); return; }
  $("guard-out").replaceChildren(
    el("p", { class: "error", text: `${data.violations.length} violation${data.violations.length === 1 ? "" : "s"}:` }),
    el("ul", {}, data.violations.map((v) => el("li", {}, el("strong", { text: v.rule }), ` in “${v.excerpt}”`))),
  );
});

// --- 6. settings: history, rebuild, export ------------------------------------------------------------------
async function loadHistory() {
  const { status, data } = await api("GET", `/context/version-history?${ws()}&limit=20`);
  const body = $("history").querySelector("tbody");
  body.innerHTML = "";
  const versions = status === 200 ? data.versions || [] : [];
  for (const v of versions) {
    const row = body.insertRow();
    for (const text of [`v${v.version}`, `${v.change} (${v.source})`, `${when(v.created_at)} UTC`]) row.insertCell().textContent = text;
    row.insertCell().append(el("code", { text: String(v.checksum).slice(0, 8) }));
  }
  $("history").hidden = !versions.length;
  $("history").parentElement.hidden = $("history").hidden;
  $("history-empty").textContent = status === 200 ? "No versions yet." : problemText(status, data);
  $("history-empty").hidden = Boolean(versions.length);
}
$("bcm-history").addEventListener("click", loadHistory);

const dialog = $("rebuild-dialog");
$("bcm-rebuild").addEventListener("click", () => {
  $("rebuild-status").textContent = "";
  $("rebuild-progress").hidden = true;
  $("rebuild-start").disabled = false;
  dialog.showModal();
});
$("rebuild-close").addEventListener("click", () => dialog.close());
dialog.addEventListener("close", () => $("bcm-rebuild").focus());
$("rebuild-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const before = state.manifest ? state.manifest.version : null;
  const reason = $("rebuild-reason").value.trim();
  const body = { workspace_id: state.workspaceId, ...(reason ? { reason } : {}) };
  $("rebuild-start").disabled = true;
  const { status, data } = await api("POST", "/context/rebuild", body, { idempotencyKey: crypto.randomUUID() });
  if (status !== 202) { $("rebuild-status").textContent = problemText(status, data); $("rebuild-start").disabled = false; return; }
  const progress = $("rebuild-progress");
  progress.hidden = false; progress.removeAttribute("value");
  $("rebuild-status").textContent = "Queued…";
  if ($("bcm-freshness")) { $("bcm-freshness").textContent = "rebuilding"; $("bcm-freshness").className = "badge rebuilding"; }
  let outcome = data.status;
  for (let i = 0; i < REBUILD_POLLS; i += 1) {
    await new Promise((r) => setTimeout(r, 1000));
    const view = await loadDashboard();
    const job = view && view.rebuild;
    if (job && job.job_id === data.job_id) outcome = job.status;
    else if (view && !job) outcome = "succeeded"; // the job's record expired: it finished
    if (outcome === "running") $("rebuild-status").textContent = "Running…";
    if (!["queued", "running"].includes(outcome)) {
      progress.max = 1; progress.value = 1;
      const now = view ? view.version : before;
      $("rebuild-status").textContent = outcome === "succeeded" || outcome === "skipped"
        ? `Done: ${now === before ? `v${now}, unchanged` : `now v${now} (was v${before})`}.`
        : `Failed (${outcome}): the previous version stays current.`;
      $("rebuild-close").focus();
      break;
    }
  }
  $("rebuild-start").disabled = false;
  await loadHistory();
});

for (const [id, format] of [["bcm-export-json", "json"], ["bcm-export-md", "markdown"]]) {
  $(id).addEventListener("click", async () => {
    const { status, data } = await api("GET", `/context/export?${ws()}&format=${format}`);
    if (status !== 200 || !data.url) { showProblem($("export-status"), status, data); return; }
    // The signed URL carries the file name (response-content-disposition): the browser saves it, the page stays.
    const link = el("a", { href: data.url, text: `Download ${data.filename} again` });
    link.click();
    $("export-status").replaceChildren(`Exported ${data.filename} (v${data.version}). `, link);
  });
}

// --- start: what the stored sign-in already allows ----------------------------------------------------------
async function boot() {
  renderWho();
  if (!state.token) return;
  if (state.sessionId) {
    await loadSession();
    const n = Number(localStorage.getItem("bcm.step"));
    if (state.session && n && stepNamed(n)) openStep(stepNamed(n));
  }
  // The dashboard when there is a manifest to show (finalized here, or one seen before): no 404 to provoke.
  const seen = localStorage.getItem(`bcm.manifest.${state.workspaceId}`);
  if ((state.session && state.session.status === "finalized") || seen) { await loadDashboard(); await loadHistory(); }
}

// The pages FRONTEND_URL links to: /app/billing/return?order=... (back from PhonePe), /app/billing
const page = location.pathname.replace(/\/+$/, "");
if (page.endsWith("/billing/return")) {
  const order = new URLSearchParams(location.search).get("order");
  $("pay").scrollIntoView();
  if (order && state.token) { $("pay-link").textContent = `Back from checkout: order ${order}`; pollPayment(order); }
} else if (page.endsWith("/billing")) {
  $("billing").scrollIntoView();
  if (state.token) loadBilling();
}
boot();
