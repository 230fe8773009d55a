import type { ContentPart, ResponseItem, ToolOutput } from "../../protocol/index.ts";
import { messageText } from "../../protocol/index.ts";
import type { ModelRequest } from "../types.ts";
import { argsObject, compactionText, entryString, schemaInstruction } from "./shared.ts";

/**
 * Builds Anthropic Messages request bodies: thinking blocks with their signatures sent
 * back verbatim, tool results grouped into user turns, and up to four `cache_control`
 * breakpoints (last tool, system, the last message, and the end of the previous
 * request's prompt) so each call reads the prefix the previous one wrote.
 */

type Json = Record<string, unknown>;
type Message = { role: "user" | "assistant"; content: Json[] };

/** The providerData key the Anthropic client owns. */
export const ANTHROPIC_DATA = "anthropic";

const EPHEMERAL = { type: "ephemeral" } as const;
/** Anthropic accepts at most four cache_control markers per request. */
const MAX_BREAKPOINTS = 4;

function source(mediaType: string, data: string | undefined, url: string | undefined): Json {
  return url !== undefined
    ? { type: "url", url }
    : { type: "base64", media_type: mediaType, data: data ?? "" };
}

function userBlock(p: ContentPart): Json | undefined {
  switch (p.type) {
    case "text":
      return p.text === "" ? undefined : { type: "text", text: p.text };
    case "image":
      return { type: "image", source: source(p.mediaType, p.data, p.url) };
    case "file":
      if (p.mediaType === "text/plain" && p.data !== undefined) {
        const text = Buffer.from(p.data, "base64").toString("utf8");
        return { type: "document", source: { type: "text", media_type: "text/plain", data: text } };
      }
      return { type: "document", source: source(p.mediaType, p.data, p.url) };
  }
}

function toolResultContent(output: ToolOutput): string | Json[] {
  if (typeof output === "string") return output;
  return output.map((p) =>
    p.type === "text"
      ? { type: "text", text: p.text }
      : { type: "image", source: source(p.mediaType, p.data, p.url) },
  );
}

/** The blocks one history item contributes, and the role they belong to. */
function blocksOf(item: ResponseItem): { role: "user" | "assistant"; blocks: Json[] } {
  switch (item.type) {
    case "message": {
      if (item.role === "assistant") {
        const text = messageText(item);
        return { role: "assistant", blocks: text === "" ? [] : [{ type: "text", text }] };
      }
      if (item.role === "system") {
        return {
          role: "user",
          blocks: [{ type: "text", text: `<system-reminder>${messageText(item)}</system-reminder>` }],
        };
      }
      return { role: "user", blocks: item.content.map(userBlock).filter((b): b is Json => b !== undefined) };
    }
    case "reasoning": {
      const signature = entryString(item.providerData, ANTHROPIC_DATA, "signature");
      if (signature !== undefined)
        return { role: "assistant", blocks: [{ type: "thinking", thinking: item.text, signature }] };
      const redacted = entryString(item.providerData, ANTHROPIC_DATA, "redacted");
      if (redacted !== undefined)
        return { role: "assistant", blocks: [{ type: "redacted_thinking", data: redacted }] };
      return { role: "assistant", blocks: [] }; // reasoning of another provider cannot be replayed
    }
    case "function_call":
      return {
        role: "assistant",
        blocks: [{ type: "tool_use", id: item.callId, name: item.name, input: argsObject(item.arguments) }],
      };
    case "function_call_output": {
      const block: Json = {
        type: "tool_result",
        tool_use_id: item.callId,
        content: toolResultContent(item.output),
      };
      if (item.isError) block.is_error = true;
      return { role: "user", blocks: [block] };
    }
    case "compaction":
      return { role: "user", blocks: [{ type: "text", text: compactionText(item) }] };
  }
}

/**
 * Groups the history into alternating user/assistant messages. With `boundaries`, also
 * records for every item count n the last block that can carry a cache breakpoint covering
 * items [0, n) (thinking blocks cannot), so breakpoints can be placed by item position.
 */
export function anthropicMessages(
  items: readonly ResponseItem[],
  boundaries?: (Json | undefined)[],
): Message[] {
  const messages: Message[] = [];
  let lastCacheable: Json | undefined;
  boundaries?.push(undefined);
  for (const item of items) {
    const { role, blocks } = blocksOf(item);
    for (const b of blocks) if (b.type !== "thinking" && b.type !== "redacted_thinking") lastCacheable = b;
    boundaries?.push(lastCacheable);
    if (blocks.length === 0) continue;
    const last = messages.at(-1);
    if (last && last.role === role) {
      // Tool results must lead a user message: put them before any text already there.
      if (role === "user" && blocks[0]?.type === "tool_result") {
        const firstOther = last.content.findIndex((b) => b.type !== "tool_result");
        if (firstOther >= 0) last.content.splice(firstOther, 0, ...blocks);
        else last.content.push(...blocks);
      } else {
        last.content.push(...blocks);
      }
    } else {
      messages.push({ role, content: [...blocks] });
    }
  }
  return messages;
}

/** Marks the last cacheable block of a message; thinking blocks cannot carry cache_control. */
function markMessage(message: Message | undefined): boolean {
  if (!message) return false;
  for (let i = message.content.length - 1; i >= 0; i--) {
    const block = message.content[i] as Json;
    if (block.type === "thinking" || block.type === "redacted_thinking") continue;
    // Blocks are built fresh for every request: marking one in place changes nothing shared.
    if (block.cache_control) return false;
    block.cache_control = EPHEMERAL;
    return true;
  }
  return false;
}

/**
 * Places cache breakpoints in `messages`: on the last message, and on the message that
 * ended the previous request (the one before the latest assistant message). Returns how
 * many it placed; with the tool and system breakpoints the total never exceeds four.
 */
export function placeMessageBreakpoints(messages: Message[]): number {
  let placed = 0;
  const lastIndex = messages.length - 1;
  if (markMessage(messages[lastIndex])) placed++;
  let lastAssistant = -1;
  for (let i = lastIndex; i >= 0; i--) {
    if (messages[i]?.role === "assistant") {
      lastAssistant = i;
      break;
    }
  }
  const previousEnd = lastAssistant - 1;
  if (previousEnd >= 0 && previousEnd !== lastIndex && markMessage(messages[previousEnd])) placed++;
  return placed;
}

/** Options shaping the body. */
export interface AnthropicBodyOptions {
  readonly model: string;
  readonly maxTokens: number;
  /** Place cache_control breakpoints. Default true. */
  readonly cache: boolean;
  /** The `thinking` field, e.g. `{ type: "enabled", budget_tokens: 4000 }` or `{ type: "adaptive" }`. */
  readonly thinking?: Record<string, unknown>;
  /** `native` (output_config.format) or `prompt` (schema in the system prompt). */
  readonly structuredOutput: "native" | "prompt";
  readonly extraBody?: Record<string, unknown>;
}

/** The full streaming request body. */
export function anthropicBody(request: ModelRequest, options: AnthropicBodyOptions): Json {
  const format = request.responseFormat;
  const system =
    format && options.structuredOutput === "prompt"
      ? request.system + schemaInstruction(format)
      : request.system;
  const hints = options.cache ? request.cacheBreakpoints : undefined;
  const boundaries: (Json | undefined)[] | undefined = hints && hints.length > 0 ? [] : undefined;
  const messages = anthropicMessages(request.items, boundaries);
  const body: Json = {
    model: options.model,
    max_tokens: request.maxOutputTokens ?? options.maxTokens,
    stream: true,
  };
  let placed = 0;
  if (system !== "") {
    const block: Json = { type: "text", text: system };
    if (options.cache) {
      block.cache_control = EPHEMERAL;
      placed++;
    }
    body.system = [block];
  }
  if (options.cache) {
    if (boundaries) {
      // The context manager's placement: the last message, then its boundaries (where the
      // next rewrite keeps the prefix), then the tools if a slot is left.
      if (markMessage(messages.at(-1))) placed++;
      for (const n of (hints ?? []).slice(0, 2)) {
        const block = boundaries[n];
        if (placed >= MAX_BREAKPOINTS || !block || block.cache_control) continue;
        block.cache_control = EPHEMERAL;
        placed++;
      }
    } else {
      placed += placeMessageBreakpoints(messages);
    }
  }
  if (request.tools.length > 0) {
    const tools: Json[] = request.tools.map((t) => ({
      name: t.name,
      description: t.description,
      input_schema: t.parameters,
    }));
    if (options.cache && placed < MAX_BREAKPOINTS)
      tools[tools.length - 1] = { ...(tools.at(-1) as Json), cache_control: EPHEMERAL };
    body.tools = tools;
    const choice = toolChoice(request);
    if (choice) body.tool_choice = choice;
  }
  body.messages = messages;
  if (format && options.structuredOutput === "native") {
    body.output_config = { format: { type: "json_schema", schema: format.schema } };
  }
  if (options.thinking) body.thinking = options.thinking;
  else if (request.temperature !== undefined) body.temperature = request.temperature;
  return options.extraBody ? { ...body, ...options.extraBody } : body;
}

function toolChoice(request: ModelRequest): Json | undefined {
  const choice = request.toolChoice;
  const parallel = request.parallelToolCalls === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined)
    return request.parallelToolCalls === false ? { type: "auto", ...parallel } : undefined;
  if (choice === "none") return { type: "none" };
  if (choice === "auto") return { type: "auto", ...parallel };
  if (choice === "required") return { type: "any", ...parallel };
  return { type: "tool", name: choice.name, ...parallel };
}
