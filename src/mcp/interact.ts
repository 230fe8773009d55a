/**
 * Server-initiated requests that need a person or the model: elicitation (2025 requests and
 * 2026 `input_required` rounds alike, the SDK funnels both to one handler) becomes the
 * kernel's user-input request, the same persisted suspension `ask_user` uses; sampling goes
 * to the engine's model after a person approves it.
 */
import type {
  CreateMessageRequestParams,
  CreateMessageResult,
  ElicitRequestParams,
  ElicitResult,
} from "@modelcontextprotocol/client";
import { describeError } from "../errors.ts";
import type { ModelClient } from "../llm/types.ts";
import type { MessageItem } from "../protocol/index.ts";
import type { ToolContext } from "../tool/define.ts";

type Ask = NonNullable<ToolContext["askUser"]>;

interface FieldSchema {
  readonly type?: string;
  readonly title?: string;
  readonly description?: string;
  readonly enum?: readonly string[];
  readonly oneOf?: readonly { const: string; title?: string }[];
  readonly items?: { readonly enum?: readonly string[]; readonly anyOf?: readonly { const: string }[] };
  readonly default?: unknown;
}

/**
 * Asks the user an elicitation's question through `ask` and turns the answer into an
 * ElicitResult. "decline" and "cancel" answer as such; a form's answer is a JSON object, or
 * the bare value when the form has one field. Without `ask` the request is declined.
 */
export async function elicit(
  server: string,
  params: ElicitRequestParams,
  ask: Ask | undefined,
): Promise<ElicitResult> {
  if (!ask) return { action: "decline" };
  if (params.mode === "url") {
    const answer = await ask(
      `MCP server "${server}" asks you to open this URL: ${params.url}\n${params.message}\nAnswer "done" once finished, or "decline".`,
      ["done", "decline"],
    );
    const word = answer.trim().toLowerCase();
    return { action: word === "decline" || word === "cancel" ? (word as "decline" | "cancel") : "accept" };
  }
  const schema = params.requestedSchema as { properties?: Record<string, FieldSchema>; required?: string[] };
  const fields = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  const lines = fields.map(([name, f]) => {
    const choices = enumOf(f);
    const kind = choices ? `one of: ${choices.join(", ")}` : (f.type ?? "string");
    const req = required.has(name) ? ", required" : "";
    const about = f.description ?? f.title;
    return `- ${name} (${kind}${req})${about ? `: ${about}` : ""}`;
  });
  const single = fields.length === 1 ? fields[0] : undefined;
  const how = single
    ? `Answer with the value of ${single[0]}, or "decline" / "cancel".`
    : `Answer with a JSON object of these fields, or "decline" / "cancel".`;
  const question = [
    `MCP server "${server}" asks: ${params.message}`,
    ...(lines.length ? ["Fields:", ...lines] : []),
    how,
  ].join("\n");
  const options = single ? optionsFor(single[1]) : undefined;
  let prompt = question;
  // An answer that does not fit the form is asked again (twice), saying what was wrong.
  for (let round = 0; round < 3; round++) {
    const answer = (await ask(prompt, options)).trim();
    const word = answer.toLowerCase();
    if (word === "decline" || word === "cancel") return { action: word };
    if (fields.length === 0) return { action: "accept", content: {} };
    const parsed = withDefaults(parseAnswer(answer, fields, single), fields);
    const missing = "content" in parsed ? [...required].filter((name) => !(name in parsed.content)) : [];
    if ("content" in parsed && missing.length === 0) return { action: "accept", content: parsed.content };
    const why = "error" in parsed ? parsed.error : `missing required field(s): ${missing.join(", ")}`;
    prompt = `That answer did not fit the form (${why}).\n${question}`;
  }
  return { action: "decline" };
}

/** Fields the answer left out take the form's defaults (SEP-1034). */
function withDefaults(
  parsed: { content: Content } | { error: string },
  fields: [string, FieldSchema][],
): { content: Content } | { error: string } {
  if (!("content" in parsed)) return parsed;
  const content = { ...parsed.content };
  for (const [name, f] of fields) {
    const d = f.default;
    const usable =
      typeof d === "string" || typeof d === "number" || typeof d === "boolean" || Array.isArray(d);
    if (!(name in content) && usable) content[name] = d as Content[string];
  }
  return { content };
}

function enumOf(f: FieldSchema): readonly string[] | undefined {
  return f.enum ?? f.oneOf?.map((o) => o.const) ?? f.items?.enum ?? f.items?.anyOf?.map((o) => o.const);
}

function optionsFor(f: FieldSchema): string[] | undefined {
  if (f.type === "boolean") return ["yes", "no", "decline"];
  const choices = f.type === "array" ? undefined : enumOf(f);
  return choices && choices.length <= 9 ? [...choices, "decline"] : undefined;
}

type Content = NonNullable<ElicitResult["content"]>;

function parseAnswer(
  answer: string,
  fields: [string, FieldSchema][],
  single: [string, FieldSchema] | undefined,
): { content: Content } | { error: string } {
  let raw: Record<string, unknown> | undefined;
  if (answer.startsWith("{")) {
    try {
      const parsed: unknown = JSON.parse(answer);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
        raw = parsed as Record<string, unknown>;
    } catch {
      raw = undefined;
    }
  }
  if (!raw && single) raw = { [single[0]]: answer };
  if (!raw) return { error: "expected a JSON object" };
  const content: Content = {};
  for (const [name, f] of fields) {
    if (!(name in raw)) continue;
    const value = coerce(raw[name], f);
    if (value === undefined) {
      const choices = enumOf(f);
      return {
        error: `${name} must be ${choices ? `one of ${choices.join(", ")}` : `a ${f.type ?? "string"}`}`,
      };
    }
    content[name] = value;
  }
  return { content };
}

function coerce(value: unknown, f: FieldSchema): string | number | boolean | string[] | undefined {
  const text = typeof value === "string" ? value.trim() : value;
  switch (f.type) {
    case "boolean":
      if (typeof text === "boolean") return text;
      if (typeof text === "string" && /^(y|yes|true|1|ok)$/i.test(text)) return true;
      if (typeof text === "string" && /^(n|no|false|0)$/i.test(text)) return false;
      return undefined;
    case "number":
    case "integer": {
      const n =
        typeof text === "number" ? text : typeof text === "string" && text !== "" ? Number(text) : Number.NaN;
      if (!Number.isFinite(n) || (f.type === "integer" && !Number.isInteger(n))) return undefined;
      return n;
    }
    case "array": {
      const list = Array.isArray(text)
        ? text.map(String)
        : typeof text === "string"
          ? text
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
          : undefined;
      const choices = enumOf(f);
      if (!list || (choices && list.some((v) => !choices.includes(v)))) return undefined;
      return list;
    }
    default: {
      if (typeof text !== "string" && typeof text !== "number") return undefined;
      const s = String(text);
      const choices = enumOf(f);
      return choices && !choices.includes(s) ? undefined : s;
    }
  }
}

/** How a server's sampling requests are handled. */
export type SamplingPolicy = "ask" | "allow" | "deny";

/**
 * Runs a sampling request on `model` after approval (`ask`: a person answers allow/deny
 * through `ask`; without one the request is refused). Throws when refused, which the SDK
 * sends back to the server as an error.
 */
export async function sample(
  server: string,
  params: CreateMessageRequestParams,
  env: {
    readonly policy: SamplingPolicy;
    readonly model: ModelClient | undefined;
    readonly ask: Ask | undefined;
    readonly signal: AbortSignal;
    /** The thread whose tool call led here (providers use it as the prompt cache key). */
    readonly threadId?: string | undefined;
  },
): Promise<CreateMessageResult> {
  if (env.policy === "deny") throw new Error("sampling is disabled for this server");
  if (!env.model) throw new Error("no model is available for sampling");
  if (env.policy === "ask") {
    if (!env.ask) throw new Error("sampling needs a person's approval and no one can be asked");
    const last = params.messages.at(-1);
    const preview = last ? contentText(last.content).slice(0, 300) : "";
    const answer = await env.ask(
      `MCP server "${server}" asks to use the model (${params.messages.length} message(s), at most ${params.maxTokens} tokens)${preview ? `: "${preview}"` : ""}. Allow?`,
      ["allow", "deny"],
    );
    if (!/^(allow|yes|y)$/i.test(answer.trim()))
      throw new Error("the user did not approve the sampling request");
  }
  const items: MessageItem[] = params.messages.map((m) => ({
    type: "message",
    role: m.role,
    content: [{ type: "text", text: contentText(m.content) }],
  }));
  let text = "";
  let stop: CreateMessageResult["stopReason"] = "endTurn";
  for await (const ev of env.model.stream(
    {
      system: params.systemPrompt ?? "",
      items,
      tools: [],
      maxOutputTokens: params.maxTokens,
      ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
      ...(env.threadId !== undefined ? { threadId: env.threadId } : {}),
    },
    { signal: env.signal },
  )) {
    if (ev.type === "text_delta") text += ev.delta;
    else if (ev.type === "finish" && ev.reason === "length") stop = "maxTokens";
    else if (ev.type === "error") throw new Error(`the model failed: ${describeError(ev.error.message)}`);
  }
  return { role: "assistant", content: { type: "text", text }, model: env.model.id, stopReason: stop };
}

function contentText(content: unknown): string {
  const blocks = Array.isArray(content) ? content : [content];
  return blocks
    .map((b) =>
      typeof b === "object" && b !== null && (b as { type?: string }).type === "text"
        ? String((b as { text: unknown }).text)
        : `[${(b as { type?: string })?.type ?? "content"}]`,
    )
    .join("\n");
}
