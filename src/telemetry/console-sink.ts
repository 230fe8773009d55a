/** A human-readable sink: one short line per event, for the CLI and for debugging. */
import type { Event, EventMsg } from "../protocol/index.ts";
import type { EventSink } from "./sinks.ts";

/** Options of `consoleSink`. */
export interface ConsoleSinkOptions {
  /** Where lines go. Default `process.stderr`. */
  readonly out?: { write(text: string): unknown };
  /** Also print text and reasoning deltas. Default false. */
  readonly deltas?: boolean;
  /** Longest line, in characters. Default 200. */
  readonly width?: number;
}

function clip(text: string, width: number): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

function summary(msg: EventMsg): string {
  switch (msg.type) {
    case "turn_started":
      return `model=${msg.model}`;
    case "model_call_started":
      return `step=${msg.step} model=${msg.model}`;
    case "model_call_completed":
      return `step=${msg.step} ${msg.finishReason} in=${msg.usage.inputTokens} out=${msg.usage.outputTokens} ${Math.round(msg.durationMs)}ms${msg.error ? ` ${msg.error.code}` : ""}`;
    case "tool_call_started":
      return `${msg.name} ${JSON.stringify(msg.input) ?? ""}`;
    case "tool_call_completed":
      return `${msg.name} ${msg.status} ${Math.round(msg.durationMs)}ms`;
    case "turn_completed":
      return `steps=${msg.steps} in=${msg.usage.inputTokens} out=${msg.usage.outputTokens}${msg.costUsd !== undefined ? ` $${msg.costUsd.toFixed(4)}` : ""} ${Math.round(msg.durationMs)}ms`;
    case "turn_failed":
      return `${msg.error.code}: ${msg.error.message}`;
    case "turn_aborted":
      return `${msg.reason}: ${msg.message}`;
    case "warning":
      return `${msg.code}: ${msg.message}`;
    case "error":
      return `${msg.error.code}: ${msg.error.message}`;
    case "budget_warning":
      return `${msg.scope} ${msg.unit} ${Math.round(msg.threshold * 100)}%: ${msg.used} of ${msg.limit}`;
    case "assistant_message":
    case "user_message":
      return JSON.stringify(msg.text);
    case "assistant_text":
    case "reasoning_delta":
      return JSON.stringify(msg.delta);
    default: {
      const { type: _type, ...rest } = msg;
      return JSON.stringify(rest);
    }
  }
}

/** `HH:MM:SS.mmm thread-suffix type summary` per event. */
export function formatEvent(event: Event, width = 200): string {
  const time = new Date(event.ts).toISOString().slice(11, 23);
  return clip(`${time} ${event.threadId.slice(-8)} ${event.msg.type} ${summary(event.msg)}`, width);
}

/** A sink that prints one line per event (deltas only when asked). */
export function consoleSink(options: ConsoleSinkOptions = {}): EventSink {
  const out = options.out ?? process.stderr;
  const width = options.width ?? 200;
  return {
    name: "console",
    write(events) {
      let text = "";
      for (const ev of events) {
        const t = ev.msg.type;
        if (!options.deltas && (t === "assistant_text" || t === "reasoning_delta")) continue;
        text += `${formatEvent(ev, width)}\n`;
      }
      if (text !== "") out.write(text);
    },
  };
}
