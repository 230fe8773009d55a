/**
 * Checks the stable-prefix guarantee of a compiler on a scripted multi-turn conversation: each
 * turn's compiled request, serialized the way its provider sends it, must start with the
 * previous turn's serialized request (cache markers aside). Used by the tests and the bench.
 */
import { anthropicBody } from "../llm/providers/anthropic-request.ts";
import { COMPATIBLE_DIALECT, chatBody } from "../llm/providers/openai-chat-request.ts";
import type { ModelRequest } from "../llm/types.ts";
import type { ResponseItem } from "../protocol/index.ts";
import type { PromptCompiler } from "./compilers.ts";

const SYSTEM = `You are a careful coding agent.

IMPORTANT: never push to main.

# Style
Small functions. Tests beside the code.

## Tools
Prefer read-only tools first.`;

const TOOLS = [
  {
    name: "write_file",
    description: "Writes a file.",
    parameters: {
      type: "object",
      required: ["path"],
      properties: { path: { type: "string" }, content: { type: "string" } },
    },
  },
  {
    name: "read_file",
    description: "Reads a file.",
    parameters: { properties: { path: { type: "string" } }, type: "object" },
  },
];

const user = (text: string): ResponseItem => ({
  type: "message",
  role: "user",
  content: [{ type: "text", text }],
});

/** A conversation of `turns` turns, as the kernel would send it at each turn's first call. */
export function scriptedTurns(turns: number): ModelRequest[] {
  const items: ResponseItem[] = [];
  const out: ModelRequest[] = [];
  for (let t = 1; t <= turns; t++) {
    items.push(user(`Task ${t}: read src/m${t}.ts`));
    if (t % 2 === 0)
      items.push({
        type: "message",
        role: "system",
        content: [{ type: "text", text: `todo: ${t} items left` }],
      });
    out.push({
      system: SYSTEM,
      tools: TOOLS,
      items: items.slice(),
      threadId: "t",
      temperature: 0.2,
      maxOutputTokens: 1024,
    });
    items.push({
      type: "function_call",
      callId: `c${t}`,
      name: "read_file",
      arguments: JSON.stringify({ path: `src/m${t}.ts` }),
    });
    items.push({ type: "function_call_output", callId: `c${t}`, output: `export const m${t} = ${t};` });
    items.push({ type: "message", role: "assistant", content: [{ type: "text", text: `m${t} is ${t}.` }] });
  }
  return out;
}

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (k !== "cache_control") out[k] = strip(v);
  return out;
}

/** The request as bytes, in order: what comes before the messages, then each message. */
export function serialized(
  request: ModelRequest,
  provider: "anthropic" | "chat",
): { head: string; messages: string[] } {
  const body =
    provider === "anthropic"
      ? anthropicBody(request, { model: "m", maxTokens: 1024, cache: true, structuredOutput: "native" })
      : chatBody(request, { model: "m", dialect: COMPATIBLE_DIALECT });
  const { messages, ...rest } = strip(body) as { messages: unknown[] } & Record<string, unknown>;
  return { head: JSON.stringify(rest), messages: messages.map((m) => JSON.stringify(m)) };
}

/**
 * True when, for every pair of consecutive turns, the later compiled request's serialized form
 * begins with everything the earlier one sent except its last message (the newest user message,
 * which the later request carries too).
 */
export function prefixIdenticalAcrossTurns(
  compiler: PromptCompiler,
  provider: "anthropic" | "chat",
  turns = 6,
): boolean {
  const compiled = scriptedTurns(turns).map((r) => serialized(compiler.compile(r), provider));
  for (let i = 1; i < compiled.length; i++) {
    const a = compiled[i - 1] as { head: string; messages: string[] };
    const b = compiled[i] as { head: string; messages: string[] };
    if (a.head !== b.head) return false;
    for (let m = 0; m < a.messages.length; m++) if (a.messages[m] !== b.messages[m]) return false;
  }
  return true;
}
