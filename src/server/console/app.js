// The console's wiring: navigation, token, threads list, the thread view with its live
// stream and composer, the approvals inbox and the usage view.

import { api, follow } from "/console/stream.js";
import uPlot from "/console/vendor/uPlot.esm.js";
import { approvalCard, el, ThreadView } from "/console/views.js";

const $ = (id) => document.getElementById(id);
const token = {
  get: () => sessionStorage.getItem("taifeng-token") ?? "",
  set: (t) => sessionStorage.setItem("taifeng-token", t),
};
const client = api(token);
const state = { view: "threads", threadId: undefined, stop: undefined, view_: undefined, offset: 0 };

function fmt(n) {
  return n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

async function guarded(fn) {
  try {
    return await fn();
  } catch (err) {
    if (err.status === 401) {
      $("token-form").hidden = false;
      $("token-error").textContent = token.get()
        ? "That token is not accepted."
        : "This server needs a bearer token.";
      $("token").focus();
    } else console.error(err);
    return undefined;
  }
}

function show(view) {
  state.view = view;
  for (const b of document.querySelectorAll("nav button"))
    b.toggleAttribute("aria-current", b.dataset.view === view);
  for (const v of ["threads", "approvals", "usage"]) $(`view-${v}`).hidden = v !== view;
  if (view === "approvals") loadApprovals();
  if (view === "usage") loadUsage();
  if (view === "threads") loadThreads();
}

async function loadThreads(append = false) {
  const search = $("search").value.trim();
  const offset = append ? state.offset : 0;
  const data = await guarded(() =>
    client.get(
      `/v1/threads?limit=50&offset=${offset}${search ? `&search=${encodeURIComponent(search)}` : ""}`,
    ),
  );
  if (!data) return;
  state.offset = data.nextOffset ?? 0;
  $("more-threads").hidden = data.nextOffset === undefined;
  const list = $("threads");
  if (!append) list.replaceChildren();
  // Forks are listed under their parent when the parent is on the page.
  const byId = new Map(data.threads.map((t) => [t.threadId, t]));
  const depth = (t) =>
    t.parentThreadId && byId.has(t.parentThreadId) ? 1 + depth(byId.get(t.parentThreadId)) : 0;
  const ordered = [];
  const visit = (t) => {
    ordered.push(t);
    for (const c of data.threads) if (c.parentThreadId === t.threadId) visit(c);
  };
  for (const t of data.threads) if (!t.parentThreadId || !byId.has(t.parentThreadId)) visit(t);
  for (const t of ordered) {
    const u = t.usage;
    list.append(
      el(
        "li",
        { class: "thread-row", style: `--depth:${depth(t)}` },
        el(
          "button",
          {
            type: "button",
            class: "thread-link",
            "aria-current": t.threadId === state.threadId ? "true" : undefined,
            onclick: () => openThread(t.threadId),
          },
          el("span", { class: "title" }, t.title ?? t.threadId),
          el("span", { class: `status ${t.status}` }, t.status),
          el(
            "span",
            { class: "muted" },
            `${t.turns} turn(s) · ${fmt(u.inputTokens)} in · ${fmt(u.outputTokens)} out`,
          ),
        ),
      ),
    );
  }
}

async function openThread(threadId) {
  state.stop?.();
  state.threadId = threadId;
  for (const b of document.querySelectorAll(".thread-link")) b.removeAttribute("aria-current");
  const info = await guarded(() => client.get(`/v1/threads/${threadId}`));
  if (!info) return;
  $("thread").hidden = false;
  $("thread-title").textContent = info.title ?? threadId;
  $("thread-meta").textContent = `${threadId} · ${info.model ?? ""} · ${info.turns} turn(s) · ${info.status}`;
  const view = new ThreadView($("conversation"), $("timeline"), answer);
  $("conversation").replaceChildren();
  view.renderTimeline();
  state.view_ = view;
  state.stop = follow(client, threadId, (f) => {
    view.frame(f);
    $("interrupt").disabled = !view.running;
    $("send").textContent = view.running ? "Steer" : "Send";
  });
  $("message").focus();
}

async function answer(request, op) {
  await guarded(() => client.post(`/v1/threads/${request.threadId}/ops`, op));
  if (state.view === "approvals") setTimeout(loadApprovals, 300);
  refreshApprovalCount();
}

async function loadApprovals() {
  const data = await guarded(() => client.get("/v1/approvals"));
  if (!data) return;
  const mine = forPerson(data.approvals);
  const list = $("approvals");
  list.replaceChildren(...mine.map((a) => approvalCard(a, answer)));
  $("no-approvals").hidden = mine.length > 0;
  $("approval-count").textContent = mine.length ? String(mine.length) : "";
}

/** Requests a person answers: calls parked on child agents are answered by the runtime. */
function forPerson(approvals) {
  return approvals.filter((a) => a.awaiting !== "agents");
}

async function refreshApprovalCount() {
  const data = await guarded(() => client.get("/v1/approvals"));
  const n = data ? forPerson(data.approvals).length : 0;
  if (data) $("approval-count").textContent = n ? String(n) : "";
}

let chart;
async function loadUsage() {
  const data = await guarded(() => client.get("/v1/usage"));
  if (!data) return;
  const days = Object.keys(data.byDay).sort();
  const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
  const series = [
    xs,
    days.map((d) => data.byDay[d].inputTokens - data.byDay[d].cachedInputTokens),
    days.map((d) => data.byDay[d].cachedInputTokens),
    days.map((d) => data.byDay[d].outputTokens),
  ];
  const box = $("usage-chart");
  chart?.destroy();
  box.replaceChildren();
  box.dataset.points = String(days.length);
  chart = new uPlot(
    {
      width: Math.min(900, box.clientWidth || 600),
      height: 240,
      title: "Tokens per day",
      scales: { x: { time: true } },
      series: [
        {},
        { label: "uncached input", stroke: "#1f6feb", width: 2, points: { show: true } },
        { label: "cached input", stroke: "#2da44e", width: 2, points: { show: true } },
        { label: "output", stroke: "#bf8700", width: 2, points: { show: true } },
      ],
    },
    series,
    box,
  );
  const models = $("usage-models").tBodies[0];
  models.replaceChildren(
    ...Object.entries(data.byModel).map(([m, t]) => {
      const lat = data.latency[m];
      return el(
        "tr",
        {},
        el("th", { scope: "row" }, m),
        el("td", {}, t.turns),
        el("td", {}, fmt(t.inputTokens)),
        el("td", {}, fmt(t.cachedInputTokens)),
        el("td", {}, fmt(t.outputTokens)),
        el("td", {}, `$${t.costUsd.toFixed(4)}`),
        el("td", {}, lat ? Math.round(lat.p50) : "–"),
        el("td", {}, lat ? Math.round(lat.p95) : "–"),
      );
    }),
  );
  const threads = $("usage-threads").tBodies[0];
  threads.replaceChildren(
    ...Object.entries(data.byThread).map(([id, t]) =>
      el(
        "tr",
        {},
        el("th", { scope: "row" }, id),
        el("td", {}, t.turns),
        el("td", {}, fmt(t.inputTokens)),
        el("td", {}, t.inputTokens ? `${Math.round((100 * t.cachedInputTokens) / t.inputTokens)}%` : "–"),
        el("td", {}, fmt(t.outputTokens)),
        el("td", {}, `$${t.costUsd.toFixed(4)}`),
      ),
    ),
  );
}

async function send(event) {
  event?.preventDefault();
  const message = $("message");
  const textValue = message.value.trim();
  if (!textValue || !state.threadId) return;
  const op = state.view_?.running
    ? { type: "steer", text: textValue }
    : { type: "user_input", text: textValue };
  const ok = await guarded(() => client.post(`/v1/threads/${state.threadId}/ops`, op));
  if (ok) message.value = "";
}

function init() {
  for (const b of document.querySelectorAll("nav button"))
    b.addEventListener("click", () => show(b.dataset.view));
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    token.set($("token").value);
    $("token-form").hidden = true;
    show(state.view);
  });
  let timer;
  $("search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => loadThreads(), 250);
  });
  $("more-threads").addEventListener("click", () => loadThreads(true));
  $("new-thread").addEventListener("click", async () => {
    const created = await guarded(() => client.post("/v1/threads", {}));
    if (created) {
      await loadThreads();
      openThread(created.threadId);
    }
  });
  $("composer").addEventListener("submit", send);
  $("message").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) send(e);
  });
  $("interrupt").addEventListener("click", () =>
    guarded(() => client.post(`/v1/threads/${state.threadId}/ops`, { type: "interrupt" })),
  );
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => {
      for (const t of document.querySelectorAll("[role=tab]"))
        t.setAttribute("aria-selected", String(t === tab));
      $("conversation").hidden = tab.id !== "tab-conv";
      $("timeline").hidden = tab.id !== "tab-timeline";
    });
  }
  setInterval(() => {
    refreshApprovalCount();
    if (state.view === "threads") loadThreads();
  }, 5000);
  show("threads");
}

init();
