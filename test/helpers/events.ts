import type { Event, EventMsg } from "../../src/protocol/index.ts";

/** An event with run-specific values replaced by stable placeholders. */
export interface NormalizedEvent {
  readonly sub: string | undefined;
  readonly turn: string | undefined;
  readonly msg: Record<string, unknown>;
}

const TIMING_KEYS = new Set(["durationMs", "ts"]);

function stripTiming(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripTiming);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = TIMING_KEYS.has(k) ? 0 : stripTiming(v);
  return out;
}

/**
 * Makes an event list comparable across runs: submission and turn ids become S1, S2... and
 * T1, T2... in order of appearance, timings become 0, and seq is checked to be contiguous.
 */
export function normalize(events: readonly Event[]): NormalizedEvent[] {
  const subs = new Map<string, string>();
  const turns = new Map<string, string>();
  const label = (map: Map<string, string>, prefix: string, id: string | undefined) => {
    if (id === undefined) return undefined;
    let name = map.get(id);
    if (!name) {
      name = `${prefix}${map.size + 1}`;
      map.set(id, name);
    }
    return name;
  };
  for (let i = 1; i < events.length; i++) {
    const prev = events[i - 1] as Event;
    const cur = events[i] as Event;
    if (cur.seq <= prev.seq) throw new Error(`seq not increasing at ${i}: ${prev.seq} -> ${cur.seq}`);
  }
  return events.map((ev) => ({
    sub: label(subs, "S", ev.submissionId),
    turn: label(turns, "T", ev.turnId),
    msg: stripTiming(ev.msg) as Record<string, unknown>,
  }));
}

/** One short line per event, e.g. `tool_call_completed add ok`: for readable whole-sequence assertions. */
export function shape(events: readonly Event[] | readonly EventMsg[]): string[] {
  return events.map((e) => {
    const msg = "msg" in e ? e.msg : e;
    switch (msg.type) {
      case "assistant_text":
      case "reasoning_delta":
        return `${msg.type} ${JSON.stringify(msg.delta)}`;
      case "assistant_message":
        return `${msg.type} ${JSON.stringify(msg.text)}`;
      case "user_message":
        return `${msg.type} ${msg.kind} ${JSON.stringify(msg.text)}`;
      case "tool_call_started":
        return `${msg.type} ${msg.name} ${msg.callId}`;
      case "tool_call_completed":
        return `${msg.type} ${msg.name} ${msg.callId} ${msg.status}`;
      case "model_call_started":
        return `${msg.type} ${msg.step}`;
      case "model_call_completed":
        return `${msg.type} ${msg.step} ${msg.finishReason}`;
      case "turn_failed":
        return `${msg.type} ${msg.error.code}`;
      case "turn_aborted":
        return `${msg.type} ${msg.reason}`;
      case "op_applied":
        return `${msg.type} ${msg.op}`;
      case "op_rejected":
        return `${msg.type} ${msg.op} ${msg.code}`;
      case "warning":
        return `${msg.type} ${msg.code}`;
      case "budget_warning":
        return `${msg.type} ${msg.scope} ${msg.unit} ${msg.threshold}`;
      default:
        return msg.type;
    }
  });
}

/** Collects every event an engine emits (attach before the first submission). */
export function recorder(): { events: Event[]; listener: (ev: Event) => void } {
  const events: Event[] = [];
  return { events, listener: (ev) => events.push(ev) };
}
