import type { ContentPart, MessageItem, ResponseItem, ToolOutput } from "../../protocol/index.ts";
import { messageText } from "../../protocol/index.ts";
import type { ModelRequest } from "../types.ts";
import { compactionText, dataUrl, schemaInstruction } from "./shared.ts";

/**
 * Builds Chat Completions request bodies. One builder serves OpenAI and every
 * OpenAI-compatible server; the differences between them are a ChatDialect.
 */

/** What differs between Chat Completions servers. */
export interface ChatDialect {
  /**
   * Which reasoning is sent back as `reasoning_content` on assistant messages:
   * `none` (OpenAI and most servers), `current_turn` (DeepSeek: reasoning of the tool
   * loop since the last user message; earlier turns' reasoning is dropped), or `all`.
   */
  readonly reasoningReplay: "none" | "current_turn" | "all";
  /**
   * How a response format is requested: `json_schema` (native), `json_object` (JSON mode
   * plus the schema in the system prompt), or `prompt` (schema in the system prompt only).
   */
  readonly structuredOutput: "json_schema" | "json_object" | "prompt";
  /** `max_completion_tokens` (OpenAI) or `max_tokens` (most compatible servers). */
  readonly maxTokensField: "max_completion_tokens" | "max_tokens";
  /** Role for system items injected mid-conversation; many chat templates allow only one leading system message. */
  readonly injectedSystemRole: "system" | "user";
  /** Send `prompt_cache_key` = thread id (OpenAI). */
  readonly promptCacheKey: boolean;
  /** Ask for usage in the stream (`stream_options.include_usage`). */
  readonly streamUsage: boolean;
}

/** OpenAI's own dialect. */
export const OPENAI_DIALECT: ChatDialect = {
  reasoningReplay: "none",
  structuredOutput: "json_schema",
  maxTokensField: "max_completion_tokens",
  injectedSystemRole: "system",
  promptCacheKey: true,
  streamUsage: true,
};

/** A generic OpenAI-compatible server (vLLM, Ollama, llama.cpp, Moonshot, GLM, Qwen...). */
export const COMPATIBLE_DIALECT: ChatDialect = {
  reasoningReplay: "none",
  structuredOutput: "json_schema",
  maxTokensField: "max_tokens",
  injectedSystemRole: "user",
  promptCacheKey: false,
  streamUsage: true,
};

/** DeepSeek: `reasoning_content` replayed within a tool loop, JSON mode only. */
export const DEEPSEEK_DIALECT: ChatDialect = {
  reasoningReplay: "current_turn",
  structuredOutput: "json_object",
  maxTokensField: "max_tokens",
  injectedSystemRole: "system",
  promptCacheKey: false,
  streamUsage: true,
};

type Json = Record<string, unknown>;

function userContent(parts: readonly ContentPart[]): string | Json[] {
  if (parts.every((p) => p.type === "text")) return parts.map((p) => (p as { text: string }).text).join("");
  return parts.map(chatPart);
}

function chatPart(p: ContentPart): Json {
  switch (p.type) {
    case "text":
      return { type: "text", text: p.text };
    case "image":
      return { type: "image_url", image_url: { url: p.url ?? dataUrl(p.mediaType, p.data ?? "") } };
    case "file":
      return {
        type: "file",
        file: {
          ...(p.filename !== undefined ? { filename: p.filename } : {}),
          file_data: p.url ?? dataUrl(p.mediaType, p.data ?? ""),
        },
      };
  }
}

function toolOutput(output: ToolOutput): { text: string; images: Json[] } {
  if (typeof output === "string") return { text: output, images: [] };
  let text = "";
  const images: Json[] = [];
  for (const part of output) {
    if (part.type === "text") text += part.text;
    else
      images.push({
        type: "image_url",
        image_url: { url: part.url ?? dataUrl(part.mediaType, part.data ?? "") },
      });
  }
  return { text, images };
}

/** Index of the last user message (reasoning after it belongs to the current tool loop). */
function lastUserIndex(items: readonly ResponseItem[]): number {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i] as ResponseItem;
    if (item.type === "message" && item.role === "user") return i;
  }
  return -1;
}

/** Converts the history to Chat Completions messages (assistant parts merged into one message). */
export function chatMessages(request: ModelRequest, dialect: ChatDialect, system: string): Json[] {
  const messages: Json[] = [];
  if (system !== "") messages.push({ role: "system", content: system });
  const turnStart = lastUserIndex(request.items);
  let assistant: { content: string; tool_calls: Json[]; reasoning: string } | undefined;
  const flush = () => {
    if (!assistant) return;
    const msg: Json = { role: "assistant", content: assistant.content === "" ? null : assistant.content };
    if (assistant.tool_calls.length > 0) msg.tool_calls = assistant.tool_calls;
    if (assistant.reasoning !== "") msg.reasoning_content = assistant.reasoning;
    messages.push(msg);
    assistant = undefined;
  };
  const open = () => {
    assistant ??= { content: "", tool_calls: [], reasoning: "" };
    return assistant;
  };
  const pendingImages: Json[] = [];
  request.items.forEach((item, index) => {
    switch (item.type) {
      case "reasoning": {
        const replay =
          dialect.reasoningReplay === "all" ||
          (dialect.reasoningReplay === "current_turn" && index > turnStart);
        if (replay && item.text !== "") open().reasoning += item.text;
        return;
      }
      case "function_call":
        open().tool_calls.push({
          id: item.callId,
          type: "function",
          function: { name: item.name, arguments: item.arguments },
        });
        return;
      case "message":
        if (item.role === "assistant") {
          // Text after tool calls starts a new assistant message.
          if (assistant && assistant.tool_calls.length > 0) flush();
          open().content += messageText(item);
          return;
        }
        flush();
        flushImages(messages, pendingImages);
        messages.push(nonAssistant(item, dialect));
        return;
      case "function_call_output": {
        flush();
        const out = toolOutput(item.output);
        messages.push({ role: "tool", tool_call_id: item.callId, content: out.text });
        pendingImages.push(...out.images);
        return;
      }
      case "compaction":
        flush();
        flushImages(messages, pendingImages);
        messages.push({ role: "user", content: compactionText(item) });
        return;
    }
  });
  flush();
  flushImages(messages, pendingImages);
  return messages;
}

function nonAssistant(item: MessageItem, dialect: ChatDialect): Json {
  if (item.role === "system") return { role: dialect.injectedSystemRole, content: messageText(item) };
  return { role: "user", content: userContent(item.content) };
}

/** Tool messages carry text only: images a tool returned follow as one user message. */
function flushImages(messages: Json[], images: Json[]): void {
  if (images.length === 0) return;
  messages.push({
    role: "user",
    content: [{ type: "text", text: "Images returned by the tools above:" }, ...images],
  });
  images.length = 0;
}

/** Options that shape the body beyond the request itself. */
export interface ChatBodyOptions {
  readonly model: string;
  readonly dialect: ChatDialect;
  /** Extra body fields merged last (e.g. `reasoning_effort`, vendor options). */
  readonly extraBody?: Record<string, unknown>;
}

/** The full streaming request body. */
export function chatBody(request: ModelRequest, options: ChatBodyOptions): Json {
  const { dialect } = options;
  const format = request.responseFormat;
  const promptSchema = format !== undefined && dialect.structuredOutput !== "json_schema";
  const system = promptSchema && format ? request.system + schemaInstruction(format) : request.system;
  const body: Json = {
    model: options.model,
    messages: chatMessages(request, dialect, system),
    stream: true,
  };
  if (dialect.streamUsage) body.stream_options = { include_usage: true };
  if (request.tools.length > 0) {
    body.tools = request.tools.map((t) => ({
      type: "function",
      function: { name: t.name, description: t.description, parameters: t.parameters },
    }));
    if (request.parallelToolCalls !== undefined) body.parallel_tool_calls = request.parallelToolCalls;
  }
  const choice = request.toolChoice;
  if (choice !== undefined && request.tools.length > 0) {
    body.tool_choice =
      typeof choice === "string" ? choice : { type: "function", function: { name: choice.name } };
  }
  if (format) {
    if (dialect.structuredOutput === "json_schema") {
      body.response_format = {
        type: "json_schema",
        json_schema: { name: format.name, schema: format.schema, strict: format.strict ?? false },
      };
    } else if (dialect.structuredOutput === "json_object") {
      body.response_format = { type: "json_object" };
    }
  }
  if (request.maxOutputTokens !== undefined) body[dialect.maxTokensField] = request.maxOutputTokens;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (dialect.promptCacheKey && request.threadId) body.prompt_cache_key = request.threadId;
  return options.extraBody ? { ...body, ...options.extraBody } : body;
}
