// The local console: walks the journey against the functions mounted on this port.
// Plain browser JavaScript, no build step. Every call shows up in the "Requests" list.
"use strict";

const AUTOSAVE_MS = 800; // a pause in typing this long saves a draft
const POLL_MS = 1500; // payment status polling interval

const state = {
  token: localStorage.getItem("bcm.token"),
  email: localStorage.getItem("bcm.email"),
  workspaceId: localStorage.getItem("bcm.workspace"),
  sessionId: localStorage.getItem("bcm.session"),
  catalogue: [],
  session: null,
  step: null,
  timer: null,
};

const $ = (id) => document.getElementById(id);
const show = (el, value) => { el.innerHTML = ""; const pre = document.createElement("pre"); pre.textContent = typeof value === "string" ? value : JSON.stringify(value, null, 2); el.appendChild(pre); };

function log(method, path, status, ms) {
  const li = document.createElement("li");
  li.className = "s" + String(status)[0];
  li.textContent = `${method} ${path} -> ${status} (${ms} ms)`;
  $("log").prepend(li);
}

async function api(method, path, body, opts = {}) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
  const started = performance.now();
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  log(method, path, res.status, Math.round(performance.now() - started));
  let data = text;
  try { data = JSON.parse(text); } catch (_) { /* not JSON */ }
  return { status: res.status, data };
}

function remember(key, value) {
  if (value) localStorage.setItem(key, value); else localStorage.removeItem(key);
}

function renderWho() {
  $("who").textContent = state.token ? `${state.email} (workspace ${state.workspaceId})` : "signed out";
}

// --- 1. sign in -------------------------------------------------------------------------
$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const body = { email: form.get("email") };
  if (form.get("name")) body.name = form.get("name");
  const saved = state.token; state.token = null;
  const { status, data } = await api("POST", "/_dev/token", body);
  if (status !== 200) { state.token = saved; alert(JSON.stringify(data)); return; }
  state.token = data.access_token; state.email = body.email; state.workspaceId = data.workspace_id;
  remember("bcm.token", state.token); remember("bcm.email", state.email); remember("bcm.workspace", state.workspaceId);
  renderWho();
});

// --- 2. pay -------------------------------------------------------------------------------
$("pay-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const body = { plan: form.get("plan"), billing_period: form.get("billing_period"), autopay: form.get("autopay") === "on" };
  const { status, data } = await api("POST", "/initiate_payment/", body, { idempotencyKey: crypto.randomUUID() });
  show($("pay-out"), data);
  state.mandate = status === 201 && data.merchant_subscription_id ? data.merchant_subscription_id : null;
  $("mandate-actions").hidden = !state.mandate;
  if (state.mandate) { pollPayment(data.merchant_order_id); return; }
  $("pay-link").innerHTML = "";
  if (status === 201 && data.checkout_url) {
    // Its own element: the status polls below rewrite #pay-out, never the link.
    const link = document.createElement("a");
    link.href = data.checkout_url; link.target = "_blank"; link.textContent = "Open checkout";
    $("pay-link").appendChild(link);
    pollPayment(data.merchant_order_id);
  }
});

async function pollPayment(orderId) {
  const { status, data } = await api("GET", `/payment_status/${encodeURIComponent(orderId)}`);
  show($("pay-out"), data);
  if (status === 200 && data.state === "PENDING") setTimeout(() => pollPayment(orderId), data.poll_after_ms || POLL_MS);
  if (status === 200 && (data.state === "FAILED" || data.state === "EXPIRED")) {
    const retry = document.createElement("button");
    retry.textContent = "Try again";
    retry.addEventListener("click", () => $("pay-form").requestSubmit());
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

// --- billing --------------------------------------------------------------------------------
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
      const button = document.createElement("button");
      button.textContent = t.receipt_number;
      button.setAttribute("aria-label", `Open receipt ${t.receipt_number}`);
      button.addEventListener("click", async () => {
        const { status, data } = await api("GET", `/billing/receipt?number=${encodeURIComponent(t.receipt_number)}`);
        if (status === 200) window.open(data.url, "_blank"); else show($("billing-out"), data);
      });
      cell.appendChild(button);
    } else {
      cell.textContent = "-";
    }
  }
  $("transactions").hidden = !(transactions && transactions.length);
}

function renderBilling(data) {
  const sub = data && data.subscription;
  if (!sub) { $("billing-summary").textContent = "No plan yet: choose one above."; show($("billing-out"), data); return; }
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
  show($("billing-out"), data);
}

async function loadBilling() {
  const { data } = await api("GET", "/billing/");
  renderBilling(data);
}

$("billing-load").addEventListener("click", loadBilling);
for (const [id, path] of [["billing-cancel", "/billing/cancel"], ["billing-resume", "/billing/resume"]]) {
  $(id).addEventListener("click", async () => {
    const { status, data } = await api("POST", path, {}, { idempotencyKey: crypto.randomUUID() });
    if (status === 200) renderBilling(data); else show($("billing-out"), data);
  });
}
$("billing-change-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const body = { plan: form.get("plan"), billing_period: form.get("billing_period") };
  const { status, data } = await api("POST", "/billing/change", body, { idempotencyKey: crypto.randomUUID() });
  if (status === 200) renderBilling(data); else show($("billing-out"), data);
});
for (const button of document.querySelectorAll("[data-advance]")) {
  button.addEventListener("click", async () => {
    const { data } = await api("POST", "/_dev/clock/advance", { days: Number(button.dataset.advance) });
    $("clock-now").textContent = data.now ? `now ${data.now.slice(0, 16)} UTC` : JSON.stringify(data);
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

// --- 3. onboarding --------------------------------------------------------------------------
$("start-session").addEventListener("click", async () => {
  await loadCatalogue();
  const { status, data } = await api("POST", "/onboarding_step/sessions", {});
  if (status === 200 || status === 201) {
    state.sessionId = data.session_id; remember("bcm.session", state.sessionId);
    await loadSession();
  } else {
    $("progress-text").textContent = `${status}: ${data.detail || JSON.stringify(data)}`;
  }
});

async function loadCatalogue() {
  if (state.catalogue.length) return;
  const cat = await api("GET", "/onboarding_step/steps");
  if (cat.status === 200) state.catalogue = Array.isArray(cat.data) ? cat.data : cat.data.steps || [];
}

const stepNamed = (number) => state.session && state.session.steps.find((x) => x.number === number);

async function loadSession() {
  if (!state.sessionId) return;
  await loadCatalogue();
  const { status, data } = await api("GET", `/onboarding_step/sessions/${state.sessionId}`);
  if (status !== 200) { $("progress-text").textContent = `${status}: ${data.detail || ""}`; return; }
  state.session = data;
  // The open step is the fresh copy from now on (its version above all: saving with a stale one is a 409);
  // what the founder is typing stays in the editor.
  if (state.step) state.step = stepNamed(state.step.number) || state.step;
  renderSession();
}

function renderSession() {
  const s = state.session;
  const pct = s.progress ? s.progress.percent : 0;
  $("progress-bar").style.width = `${pct}%`;
  $("progress-text").textContent = `${s.progress.complete}/${s.progress.total} steps complete (${pct}%) - session ${s.session_id}, ${s.status}`;
  const list = $("steps"); list.innerHTML = "";
  for (const step of s.steps) {
    const li = document.createElement("li");
    const open = document.createElement("button"); // a button: reachable with Tab, opened with Enter
    open.type = "button";
    open.textContent = `${step.title} [${step.status}]${step.ai && step.ai.status !== "idle" ? " ai:" + step.ai.status : ""}`;
    li.className = step.status + (state.step && state.step.number === step.number ? " active" : "");
    open.addEventListener("click", () => openStep(step));
    li.appendChild(open);
    list.appendChild(li);
  }
  const closed = s.status !== "active"; // finalized or abandoned: nothing left to edit
  for (const id of ["step-data", "step-complete", "step-ai"]) $(id).disabled = closed;
}

function openStep(step) {
  state.step = step;
  $("editor").hidden = false;
  $("step-title").textContent = `${step.number}. ${step.title} (v${step.version || 0})`;
  $("step-data").value = JSON.stringify(step.data || {}, null, 2);
  $("step-errors").textContent = step.ai && step.ai.suggestion ? "AI suggestion:\n" + JSON.stringify(step.ai.suggestion, null, 2) : "";
  $("autosave").textContent = "autosave: idle";
  const spec = state.catalogue.find((c) => c.number === step.number);
  $("step-ai").hidden = !(spec && spec.ai_task); // only steps with an AI task offer it
  renderSession();
}

async function saveStep(draft) {
  const step = stepNamed(state.step.number) || state.step;
  let data;
  try { data = JSON.parse($("step-data").value); } catch (e) { $("autosave").textContent = "autosave: not valid JSON"; return; }
  $("autosave").textContent = "autosave: saving...";
  const res = await api("PUT", `/onboarding_step/sessions/${state.sessionId}/steps/${step.number}`, { data, draft, version: step.version });
  if (res.status === 200) {
    $("autosave").textContent = `autosave: saved ${res.data.saved_at || ""}`;
    $("step-errors").textContent = "";
    Object.assign(step, res.data.step || {});
    if (res.data.progress) state.session.progress = res.data.progress;
    renderSession();
  } else {
    $("autosave").textContent = `autosave: ${res.status}`;
    $("step-errors").textContent = JSON.stringify(res.data.errors || res.data, null, 2);
  }
}

$("step-data").addEventListener("input", () => {
  clearTimeout(state.timer);
  $("autosave").textContent = "autosave: pending";
  state.timer = setTimeout(() => saveStep(true), AUTOSAVE_MS);
});
$("step-complete").addEventListener("click", () => { clearTimeout(state.timer); saveStep(false); });
$("step-ai").addEventListener("click", async () => {
  const { data } = await api("POST", `/onboarding_step/sessions/${state.sessionId}/steps/${state.step.number}/ai`, {});
  $("step-errors").textContent = JSON.stringify(data, null, 2);
  setTimeout(loadSession, POLL_MS);
});

// --- 4. finalize ------------------------------------------------------------------------------
$("finalize-btn").addEventListener("click", async () => {
  if (!state.sessionId) { show($("finalize-out"), "start a session first"); return; }
  const { status, data } = await api("POST", `/finalize/${state.sessionId}`, {}, { idempotencyKey: `finalize-${state.sessionId}` });
  show($("finalize-out"), data);
  if (status === 200) await loadSession(); // the session reads "finalized" and the editor closes
});

// --- 5. BCM -----------------------------------------------------------------------------------
const ws = () => (state.workspaceId ? `workspace_id=${encodeURIComponent(state.workspaceId)}` : "");
$("bcm-load").addEventListener("click", async () => {
  const { status, data } = await api("GET", `/context/manifest?${ws()}`);
  if (status === 200) {
    const f = data.freshness || {};
    $("bcm-freshness").textContent = `v${data.version}, ${data.token_count} tokens, served from ${data.served_from}, age ${f.age_seconds}s${f.stale ? " (stale)" : ""}${data.rebuild ? `, rebuild ${data.rebuild.status}` : ""}`;
  } else {
    $("bcm-freshness").textContent = `${status}: ${data.detail || ""}`;
  }
  show($("bcm-out"), data);
});
$("bcm-rebuild").addEventListener("click", async () => {
  const { data } = await api("POST", "/context/rebuild", { workspace_id: state.workspaceId, reason: "console" }, { idempotencyKey: crypto.randomUUID() });
  show($("bcm-out"), data);
});
for (const [id, format] of [["bcm-export-json", "json"], ["bcm-export-md", "markdown"]]) {
  $(id).addEventListener("click", async () => {
    const { status, data } = await api("GET", `/context/export?${ws()}&format=${format}`);
    show($("bcm-out"), data);
    if (status === 200 && data.url) {
      const link = document.createElement("a"); link.href = data.url; link.target = "_blank"; link.textContent = "Download";
      $("bcm-out").prepend(link);
    }
  });
}
$("bcm-history").addEventListener("click", async () => {
  const { data } = await api("GET", `/context/version-history?${ws()}&limit=20`);
  show($("bcm-out"), data);
});

renderWho();
if (state.token && state.sessionId) loadSession();

// --- the pages FRONTEND_URL links to: /app/billing/return?order=... (back from PhonePe), /app/billing
const page = location.pathname.replace(/\/+$/, "");
if (page.endsWith("/billing/return")) {
  const order = new URLSearchParams(location.search).get("order");
  $("pay").scrollIntoView();
  if (order && state.token) { $("pay-link").textContent = `Back from checkout: order ${order}`; pollPayment(order); }
} else if (page.endsWith("/billing")) {
  $("billing").scrollIntoView();
  if (state.token) loadBilling();
}
