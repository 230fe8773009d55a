/**
 * Message content in the shape the GenAI conventions give `gen_ai.input.messages`,
 * `gen_ai.output.messages` and `gen_ai.system_instructions` (JSON strings on the span). Only
 * used when content capture is on; every string goes through the redactor first.
 */
import type { ResponseItem, ToolOutput } from "../protocol/index.ts";
import type { Redactor } from "../redact/types.ts";

type Part =
  | { type: "text"; content: string }
  | { type: "reasoning"; content: string }
  | { type: "tool_call"; id: string; name: string; arguments: string }
  | { type: "tool_call_response"; id: string; response: string }
  | { type: "blob"; modality: string; mime_type?: string };

interface Message {
  role: string;
  parts: Part[];
  finish_reason?: string;
}

function outputText(output: ToolOutput): string {
  if (typeof output === "string") return output;
  return output.map((p) => (p.type === "text" ? p.text : "[image]")).join("");
}

/** The history as `gen_ai.input.messages` (a JSON array), redacted. */
export function inputMessages(items: readonly ResponseItem[], redactor: Redactor): string {
  const out: Message[] = [];
  let last: Message | undefined;
  const push = (role: string, part: Part) => {
    if (last && last.role === role && role === "assistant") last.parts.push(part);
    else {
      last = { role, parts: [part] };
      out.push(last);
    }
  };
  for (const item of items) {
    switch (item.type) {
      case "message":
        for (const part of item.content) {
          if (part.type === "text") push(item.role, { type: "text", content: redactor.redact(part.text) });
          else push(item.role, { type: "blob", modality: part.type === "image" ? "image" : "file" });
        }
        break;
      case "reasoning":
        if (item.text !== "") push("assistant", { type: "reasoning", content: redactor.redact(item.text) });
        break;
      case "function_call":
        push("assistant", {
          type: "tool_call",
          id: item.callId,
          name: item.name,
          arguments: redactor.redact(item.arguments),
        });
        break;
      case "function_call_output":
        push("tool", {
          type: "tool_call_response",
          id: item.callId,
          response: redactor.redact(outputText(item.output)),
        });
        break;
      case "compaction":
        push("user", { type: "text", content: redactor.redact(item.summary) });
        break;
    }
  }
  return JSON.stringify(out);
}

/** What one model call answered, collected from its events, as `gen_ai.output.messages`. */
export function outputMessages(
  text: string,
  calls: readonly { id: string; name: string; arguments: string }[],
  finishReason: string,
  redactor: Redactor,
): string {
  const parts: Part[] = [];
  if (text !== "") parts.push({ type: "text", content: redactor.redact(text) });
  for (const c of calls)
    parts.push({ type: "tool_call", id: c.id, name: c.name, arguments: redactor.redact(c.arguments) });
  return JSON.stringify([{ role: "assistant", parts, finish_reason: finishReason }]);
}

/** The system prompt as `gen_ai.system_instructions`, redacted. */
export function systemInstructions(system: string, redactor: Redactor): string {
  return JSON.stringify([{ type: "text", content: redactor.redact(system) }]);
}

/** Any JSON-like value as a redacted JSON string (tool arguments and results). */
export function redactedJson(value: unknown, redactor: Redactor): string {
  if (typeof value === "string") return redactor.redact(value);
  // Redact the values, not their JSON text: escaping could hide a secret from a matcher.
  return JSON.stringify(redactor.redactValue(value)) ?? "null";
}
