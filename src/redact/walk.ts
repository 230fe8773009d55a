import type { EventMsg, ResponseItem } from "../protocol/index.ts";
import type { Redactor } from "./types.ts";

type RedactText = (text: string) => string;

/**
 * Redacts every string of a JSON-like value (object keys included), copying only the
 * containers on the path to a change: an untouched value is returned as is.
 */
export function redactJson<T>(value: T, redact: RedactText): T {
  return walk(value, redact, false) as T;
}

// `opaque`: skip what must round-trip byte for byte (provider data, inline binary data).
function walk(value: unknown, redact: RedactText, opaque: boolean): unknown {
  if (typeof value === "string") return redact(value);
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const r = walk(v, redact, opaque);
      if (r !== v) {
        copy ??= value.slice();
        copy[i] = r;
      }
    }
    return copy ?? value;
  }
  const record = value as Record<string, unknown>;
  const binary = opaque && (record.type === "image" || record.type === "file");
  let copy: Record<string, unknown> | undefined;
  for (const key in record) {
    const v = record[key];
    if (opaque && (key === "providerData" || (binary && key === "data"))) continue;
    const r = walk(v, redact, opaque);
    const k = redact(key);
    if (r !== v || k !== key) {
      copy ??= { ...record };
      if (k !== key) delete copy[key];
      copy[k] = r;
    }
  }
  return copy ?? value;
}

// Events that carry no text from outside the engine (ids, numbers, model names, fixed words).
const NO_FOREIGN_TEXT = new Set<EventMsg["type"]>([
  "thread_opened",
  "turn_started",
  "model_call_started",
  "model_call_completed",
  "op_applied",
  "thread_rewound",
  "shutdown_complete",
  "compaction_started",
  "compaction_completed",
]);

/**
 * Redacts an event's message. Events that carry no outside text are returned untouched
 * without a scan; every other event type — including ones added later — has every string
 * scanned, except provider round-trip data and inline image or file bytes.
 */
export function redactEventMsg<M extends EventMsg>(redactor: Redactor, msg: M): M {
  if (NO_FOREIGN_TEXT.has(msg.type)) return msg;
  return walk(msg, (t) => redactor.redact(t), true) as M;
}

/**
 * Redacts a history item: message and reasoning text, tool-call arguments (JSON text: the
 * masks keep it valid JSON), tool outputs, compaction summaries, image and file URLs.
 * Provider round-trip data and inline image or file bytes are left as they are.
 */
export function redactItem(redactor: Redactor, item: ResponseItem): ResponseItem {
  return walk(item, (t) => redactor.redact(t), true) as ResponseItem;
}
