import type { EventMsg, ResponseItem } from "../protocol/index.ts";
import type { Redactor } from "./types.ts";

type RedactText = (text: string) => string;

/**
 * Redacts every string of a JSON-like value (object keys included), copying only the
 * containers on the path to a change: an untouched value is returned as is.
 */
export function redactJson<T>(value: T, redact: RedactText): T {
  return walk(value, redact) as T;
}

function walk(value: unknown, redact: RedactText): unknown {
  if (typeof value === "string") return redact(value);
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const r = walk(v, redact);
      if (r !== v) {
        copy ??= value.slice();
        copy[i] = r;
      }
    }
    return copy ?? value;
  }
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key in record) {
    const v = record[key];
    const r = walk(v, redact);
    const k = redact(key);
    if (r !== v || k !== key) {
      copy ??= { ...record };
      if (k !== key) delete copy[key];
      copy[k] = r;
    }
  }
  return copy ?? value;
}

// Top-level protocol fields that never hold outside text (ids, enums, tool names), or that
// must round-trip byte for byte (providerData).
const FIXED_FIELDS = new Set([
  "type",
  "providerData",
  "callId",
  "requestId",
  "name",
  "role",
  "status",
  "kind",
  "by",
  "decision",
  "finishReason",
  "op",
  "model",
  "strategy",
  "trigger",
]);

/**
 * Redacts an event message or a history item: every field except the fixed ones above;
 * `content` and `output` part lists keep inline image and file bytes as they are (only
 * their URLs are scanned); everything nested deeper (tool inputs, progress data) is walked
 * whole.
 */
function walkProtocol(value: Record<string, unknown>, redact: RedactText): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    if (FIXED_FIELDS.has(key)) continue;
    const v = value[key];
    const r =
      (key === "content" || key === "output") && Array.isArray(v) ? walkParts(v, redact) : walk(v, redact);
    if (r !== v) {
      copy ??= { ...value };
      copy[key] = r;
    }
  }
  return copy ?? value;
}

function walkParts(parts: readonly unknown[], redact: RedactText): readonly unknown[] {
  let copy: unknown[] | undefined;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    let r = part;
    if (typeof part === "object" && part !== null) {
      const p = part as Record<string, unknown>;
      if (p.type === "text" && typeof p.text === "string") {
        const text = redact(p.text);
        if (text !== p.text) r = { ...p, text };
      } else if (p.type === "image" || p.type === "file") {
        if (typeof p.url === "string") {
          const url = redact(p.url);
          if (url !== p.url) r = { ...p, url };
        }
      } else r = walk(part, redact);
    } else r = walk(part, redact);
    if (r !== part) {
      copy ??= parts.slice();
      copy[i] = r;
    }
  }
  return copy ?? parts;
}

// Which fields of each event can carry outside text (tool inputs and outputs, model text,
// messages that quote them). An empty list: nothing to scan. A type missing from the table
// (one added later) has all its fields scanned but the fixed ones: safe by default.
const EVENT_TEXT_FIELDS: { readonly [T in EventMsg["type"]]?: readonly string[] } = {
  thread_opened: [],
  turn_started: [],
  model_call_started: [],
  model_call_completed: [],
  model_routed: [],
  rate_limit_wait: [],
  model_recovery: ["message"],
  op_applied: [],
  thread_rewound: [],
  shutdown_complete: [],
  compaction_started: [],
  compaction_completed: [],
  skill_started: [],
  child_spawned: [],
  context_overridden: [],
  user_message: ["text"],
  turn_completed: ["text", "output"],
  turn_failed: ["error"],
  turn_aborted: ["message"],
  assistant_text: ["delta"],
  reasoning_delta: ["delta"],
  assistant_message: ["text"],
  model_retry: ["error"],
  tool_call_started: ["input"],
  tool_call_progress: ["data"],
  tool_call_completed: ["output"],
  skill_completed: ["error"],
  permission_requested: ["input", "rule", "reason", "suggestions"],
  permission_resolved: ["reason", "rules"],
  user_input_requested: ["question", "options"],
  child_completed: ["text"],
  peer_message: ["text"],
  wake_scheduled: ["text"],
  op_rejected: ["message"],
  warning: ["message"],
  error: ["error"],
};

// The same for history items.
const ITEM_TEXT_FIELDS: { readonly [T in ResponseItem["type"]]?: readonly string[] } = {
  message: ["content"],
  reasoning: ["text"],
  function_call: ["arguments"],
  function_call_output: ["output"],
  compaction: ["summary"],
};

function redactFields(
  value: Record<string, unknown>,
  fields: readonly string[],
  redact: RedactText,
): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key of fields) {
    const v = value[key];
    if (v === undefined) continue;
    const r =
      typeof v === "string"
        ? redact(v)
        : (key === "content" || key === "output") && Array.isArray(v)
          ? walkParts(v, redact)
          : walk(v, redact);
    if (r !== v) {
      copy ??= { ...value };
      copy[key] = r;
    }
  }
  return copy ?? value;
}

/**
 * Redacts an event's message: the fields that can carry outside text (see the table above;
 * provider round-trip data and inline image or file bytes are never touched). Returns the
 * same message when nothing matched. Event types the table does not know have every field
 * scanned but ids and enums.
 */
export function redactEventMsg<M extends EventMsg>(redactor: Redactor, msg: M): M {
  const fields = EVENT_TEXT_FIELDS[msg.type as EventMsg["type"]];
  if (fields !== undefined && fields.length === 0) return msg;
  const record = msg as unknown as Record<string, unknown>;
  const redact = (t: string) => redactor.redact(t);
  return (fields ? redactFields(record, fields, redact) : walkProtocol(record, redact)) as unknown as M;
}

/**
 * Redacts a history item: message and reasoning text, tool-call arguments (JSON text: the
 * masks keep it valid JSON), tool outputs, compaction summaries, image and file URLs.
 * Provider round-trip data and inline image or file bytes are left as they are.
 */
export function redactItem(redactor: Redactor, item: ResponseItem): ResponseItem {
  const fields = ITEM_TEXT_FIELDS[item.type];
  const record = item as unknown as Record<string, unknown>;
  const redact = (t: string) => redactor.redact(t);
  return (fields
    ? redactFields(record, fields, redact)
    : walkProtocol(record, redact)) as unknown as ResponseItem;
}
