// Rendering: the conversation (from transcript lines and live events), the turn timeline,
// approvals and usage. Everything is built with DOM calls and textContent: no HTML from data.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat())
    if (c !== undefined && c !== null) node.append(c instanceof Node ? c : String(c));
  return node;
}

const text = (content) =>
  Array.isArray(content)
    ? content.map((p) => p.text ?? (p.type === "image" ? "[image]" : "")).join("")
    : String(content ?? "");
const outputText = (output) => (typeof output === "string" ? output : text(output));
const pretty = (v) => {
  if (typeof v === "string") {
    try {
      return JSON.stringify(JSON.parse(v), null, 2);
    } catch {
      return v;
    }
  }
  return JSON.stringify(v, null, 2);
};

/** The conversation and timeline of one thread, fed frame by frame. */
export class ThreadView {
  constructor(list, timeline, onApprove) {
    this.list = list;
    this.timeline = timeline;
    this.onApprove = onApprove;
    this.cards = new Map();
    this.streaming = undefined;
    this.reasoning = undefined;
    this.turns = [];
    this.running = false;
    this.pending = new Map();
  }

  frame(f) {
    const data = JSON.parse(f.data);
    if (f.event === "line") this.line(data);
    else if (f.event === "event") this.event(data);
    else if (f.event === "reset" || f.event === "gap") this.marker(`stream ${f.event}: ${data.reason}`);
  }

  add(node) {
    this.list.append(node);
    node.scrollIntoView?.({ block: "nearest" });
    return node;
  }

  bubble(role, body) {
    return this.add(
      el(
        "li",
        { class: `msg ${role}` },
        el(
          "span",
          { class: "who" },
          role === "user" ? "You" : role === "steer" ? "You (steer)" : "Assistant",
        ),
        el("div", { class: "body" }, body),
      ),
    );
  }

  marker(label) {
    return this.add(el("li", { class: "marker", role: "separator" }, label));
  }

  card(callId, name, input) {
    const status = el("span", { class: "status running" }, "running");
    const out = el("pre", { class: "output" });
    const details = el(
      "details",
      { class: "tool" },
      el(
        "summary",
        {},
        el("span", { class: "tool-name" }, name),
        " ",
        status,
        el("span", { class: "duration" }),
      ),
      el(
        "div",
        { class: "tool-io" },
        el("h4", {}, "Input"),
        el("pre", {}, pretty(input)),
        el("h4", {}, "Output"),
        out,
      ),
    );
    const li = this.add(el("li", { class: "call", "data-call": callId }, details));
    const entry = { li, status, out, details };
    this.cards.set(callId, entry);
    return entry;
  }

  finishCard(callId, name, output, status, durationMs) {
    const c = this.cards.get(callId) ?? this.card(callId, name, "");
    c.out.textContent = outputText(output);
    c.status.textContent = status;
    c.status.className = `status ${status}`;
    if (durationMs !== undefined)
      c.details.querySelector(".duration").textContent = ` ${Math.round(durationMs)} ms`;
  }

  line(line) {
    const p = line.payload;
    switch (line.type) {
      case "turn_context":
        this.marker(`turn · ${p.model ?? ""}`.trim());
        break;
      case "response_item":
        if (p.type === "message" && p.role !== "system") this.bubble(p.role, text(p.content));
        else if (p.type === "reasoning" && p.text)
          this.add(
            el(
              "li",
              { class: "reasoning" },
              el("details", {}, el("summary", {}, "Reasoning"), el("p", {}, p.text)),
            ),
          );
        else if (p.type === "function_call") this.card(p.callId, p.name, p.arguments);
        else if (p.type === "function_call_output")
          this.finishCard(p.callId, "", p.output, p.isError ? "error" : "ok");
        break;
      case "compacted":
        this.marker(`history compacted (${p.strategy})`);
        break;
      case "rollback":
        this.marker(`rewound ${p.turns} turn(s)`);
        break;
      case "event":
        this.persisted(p.msg);
        break;
      default:
        break;
    }
  }

  persisted(m) {
    if (m.type === "compaction_completed")
      this.marker(
        `compacted: ${m.tokensBefore} → ${m.tokensAfter} tokens, ${m.cachedTokensInvalidated} cached tokens invalidated`,
      );
    else if (m.type === "turn_failed") this.marker(`turn failed: ${m.error.message}`);
    else if (m.type === "turn_aborted") this.marker(`turn aborted: ${m.message}`);
    else if (m.type === "turn_completed")
      this.add(
        el(
          "li",
          { class: "turn-end muted" },
          `${m.usage.inputTokens} in (${m.usage.cachedInputTokens} cached) · ${m.usage.outputTokens} out · ${Math.round(m.durationMs)} ms`,
        ),
      );
  }

  event(ev) {
    const m = ev.msg;
    const turn = this.turnFor(ev);
    switch (m.type) {
      case "turn_started":
        this.running = true;
        this.marker(`turn · ${m.model}`);
        break;
      case "user_message":
        this.bubble(m.kind === "steer" ? "steer" : "user", m.text);
        break;
      case "reasoning_delta":
        if (!this.reasoning) {
          const p = el("p");
          this.add(
            el(
              "li",
              { class: "reasoning" },
              el("details", { open: true }, el("summary", {}, "Reasoning"), p),
            ),
          );
          this.reasoning = p;
        }
        this.reasoning.textContent += m.delta;
        break;
      case "assistant_text":
        if (!this.streaming) this.streaming = this.bubble("assistant", "").querySelector(".body");
        this.streaming.textContent += m.delta;
        break;
      case "assistant_message":
        if (this.streaming) this.streaming.textContent = m.text;
        else this.bubble("assistant", m.text);
        this.streaming = undefined;
        this.reasoning = undefined;
        break;
      case "model_call_started":
        turn?.spans.push({
          kind: "model",
          label: `model call ${m.step ?? ""}`,
          start: ev.ts,
          end: undefined,
          key: `m${m.step}`,
        });
        break;
      case "model_call_completed": {
        const s = turn?.spans.findLast((x) => x.kind === "model" && x.end === undefined);
        if (s) s.end = ev.ts;
        this.streaming = undefined;
        break;
      }
      case "tool_call_started":
        if (!this.cards.has(m.callId)) this.card(m.callId, m.name, m.input);
        turn?.spans.push({ kind: "tool", label: m.name, start: ev.ts, end: undefined, key: m.callId });
        break;
      case "tool_call_completed": {
        this.finishCard(m.callId, m.name, m.output, m.status, m.durationMs);
        const s = turn?.spans.find((x) => x.key === m.callId);
        if (s) s.end = ev.ts;
        break;
      }
      case "permission_requested":
        this.pending.set(m.requestId, true);
        this.add(
          approvalCard(
            {
              threadId: ev.threadId,
              kind: "permission",
              requestId: m.requestId,
              tool: m.tool,
              input: m.input,
              reason: m.reason,
              suggestions: m.suggestions,
            },
            this.onApprove,
          ),
        );
        turn?.spans.push({
          kind: "wait",
          label: `waiting: ${m.tool}`,
          start: ev.ts,
          end: undefined,
          key: m.requestId,
        });
        break;
      case "permission_resolved": {
        this.pending.delete(m.requestId);
        for (const card of this.list.querySelectorAll(`[data-request="${CSS.escape(m.requestId)}"]`)) {
          card.classList.add("resolved");
          for (const b of card.querySelectorAll("button, textarea")) b.disabled = true;
          card.querySelector(".decision").textContent = `${m.decision} (${m.by})`;
        }
        const s = turn?.spans.find((x) => x.key === m.requestId);
        if (s) s.end = ev.ts;
        break;
      }
      case "user_input_requested":
        if (m.awaiting === "agents") break; // the runtime answers it when the children finish
        this.add(
          approvalCard(
            { threadId: ev.threadId, kind: "user_input", requestId: m.requestId, question: m.question },
            this.onApprove,
          ),
        );
        break;
      case "compaction_started":
        turn?.spans.push({
          kind: "compaction",
          label: `compaction (${m.strategy ?? ""})`,
          start: ev.ts,
          end: undefined,
          key: "c",
        });
        break;
      case "compaction_completed": {
        const s = turn?.spans.findLast((x) => x.kind === "compaction" && x.end === undefined);
        if (s) s.end = ev.ts;
        this.persisted(m);
        break;
      }
      case "turn_completed":
      case "turn_failed":
      case "turn_aborted":
        this.running = false;
        this.streaming = undefined;
        if (turn) turn.end = ev.ts;
        this.persisted(m);
        this.renderTimeline();
        break;
      default:
        break;
    }
    if (m.type.startsWith("tool_call") || m.type.startsWith("model_call") || m.type.startsWith("permission"))
      this.renderTimeline();
  }

  turnFor(ev) {
    if (!ev.turnId) return undefined;
    let t = this.turns.find((x) => x.id === ev.turnId);
    if (!t) {
      t = { id: ev.turnId, start: ev.ts, end: undefined, spans: [] };
      this.turns.push(t);
    }
    return t;
  }

  /** A waterfall per turn: one bar per model call, tool call, permission wait and compaction. */
  renderTimeline() {
    this.timeline.replaceChildren();
    if (this.turns.length === 0) {
      this.timeline.append(
        el("p", { class: "muted" }, "No turn has run while this page was open or in the server's memory."),
      );
      return;
    }
    for (const t of this.turns) {
      const end = t.end ?? Math.max(t.start + 1, ...t.spans.map((s) => s.end ?? Date.now()));
      const total = Math.max(1, end - t.start);
      const rows = t.spans.map((s) => {
        const left = ((s.start - t.start) / total) * 100;
        const width = Math.max(0.5, (((s.end ?? end) - s.start) / total) * 100);
        return el(
          "li",
          { class: `span ${s.kind}` },
          el("span", { class: "span-label" }, `${s.label} · ${Math.round((s.end ?? end) - s.start)} ms`),
          el(
            "span",
            { class: "bar-track" },
            el("span", { class: "bar", style: `left:${left}%;width:${width}%` }),
          ),
        );
      });
      this.timeline.append(
        el(
          "section",
          { class: "turn" },
          el("h4", {}, `Turn ${t.id.slice(-6)} · ${Math.round(total)} ms`),
          el("ol", { class: "waterfall" }, rows),
        ),
      );
    }
  }
}

/** A request waiting on a person: approve once / always / deny / edit input, or answer a question. */
export function approvalCard(a, onApprove) {
  const decision = el("span", { class: "decision muted" });
  if (a.kind === "user_input") {
    const answer = el("input", { type: "text", "aria-label": `Answer to: ${a.question}` });
    return el(
      "li",
      { class: "approval", "data-request": a.requestId },
      el("p", {}, el("strong", {}, "Question: "), a.question),
      answer,
      el(
        "button",
        {
          type: "button",
          onclick: () =>
            onApprove(a, { type: "user_input_answer", requestId: a.requestId, answer: answer.value }),
        },
        "Answer",
      ),
      decision,
    );
  }
  const edit = el("textarea", { rows: 3, "aria-label": `Input for ${a.tool}` });
  edit.value = JSON.stringify(a.input, null, 2);
  const send = (d) => {
    const op = { type: "approval", requestId: a.requestId, decision: d };
    if (d !== "deny") {
      try {
        const edited = JSON.parse(edit.value);
        if (JSON.stringify(edited) !== JSON.stringify(a.input)) op.editedInput = edited;
      } catch {
        decision.textContent = "the edited input is not valid JSON";
        return;
      }
    }
    onApprove(a, op);
  };
  return el(
    "li",
    { class: "approval", "data-request": a.requestId },
    el(
      "p",
      {},
      el("strong", {}, a.tool),
      a.reason ? ` — ${a.reason}` : "",
      a.threadId ? el("span", { class: "muted" }, ` · ${a.threadId}`) : "",
    ),
    el("details", {}, el("summary", {}, "Input (editable)"), edit),
    el(
      "div",
      { class: "buttons" },
      el("button", { type: "button", class: "allow", onclick: () => send("allow_once") }, "Approve once"),
      a.suggestions?.length
        ? el(
            "button",
            { type: "button", onclick: () => send("allow_always"), title: a.suggestions.join(", ") },
            "Always",
          )
        : undefined,
      el("button", { type: "button", class: "deny", onclick: () => send("deny") }, "Deny"),
    ),
    decision,
  );
}
