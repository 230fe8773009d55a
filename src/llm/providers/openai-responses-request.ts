import type { ContentPart, ResponseItem, ToolOutput } from "../../protocol/index.ts";
import { messageText } from "../../protocol/index.ts";
import type { ModelRequest } from "../types.ts";
import { compactionText, dataUrl, providerEntry } from "./shared.ts";

/**
 * Builds OpenAI Responses API request bodies. Requests are stateless (`store: false`):
 * reasoning items travel back in full, with their encrypted content, on every request,
 * so a thread can resume anywhere and the server keeps nothing.
 */

type Json = Record<string, unknown>;

/** The providerData key the Responses client owns. */
export const OPENAI_DATA = "openai";

function inputPart(p: ContentPart): Json {
  switch (p.type) {
    case "text":
      return { type: "input_text", text: p.text };
    case "image":
      return { type: "input_image", image_url: p.url ?? dataUrl(p.mediaType, p.data ?? ""), detail: "auto" };
    case "file":
      return p.url !== undefined
        ? { type: "input_file", file_url: p.url }
        : {
            type: "input_file",
            filename: p.filename ?? "file",
            file_data: dataUrl(p.mediaType, p.data ?? ""),
          };
  }
}

function toolOutput(output: ToolOutput): string | Json[] {
  if (typeof output === "string") return output;
  return output.map((p) =>
    p.type === "text"
      ? { type: "input_text", text: p.text }
      : { type: "input_image", image_url: p.url ?? dataUrl(p.mediaType, p.data ?? ""), detail: "auto" },
  );
}

/**
 * Converts one history item to Responses input items. Reasoning from another provider
 * (no `openai` providerData) cannot be replayed and is dropped.
 */
function inputItems(item: ResponseItem): Json[] {
  switch (item.type) {
    case "message":
      if (item.role === "assistant") return [{ role: "assistant", content: messageText(item) }];
      if (item.role === "system") return [{ role: "developer", content: messageText(item) }];
      return [{ role: "user", content: item.content.map(inputPart) }];
    case "reasoning": {
      const data = providerEntry(item.providerData, OPENAI_DATA);
      if (typeof data?.id !== "string") return [];
      const summary = Array.isArray(data.summary)
        ? data.summary
        : item.text === ""
          ? []
          : [{ type: "summary_text", text: item.text }];
      const out: Json = { type: "reasoning", id: data.id, summary };
      if (typeof data.encrypted_content === "string") out.encrypted_content = data.encrypted_content;
      return [out];
    }
    case "function_call":
      return [{ type: "function_call", call_id: item.callId, name: item.name, arguments: item.arguments }];
    case "function_call_output":
      return [{ type: "function_call_output", call_id: item.callId, output: toolOutput(item.output) }];
    case "compaction":
      return [{ role: "user", content: compactionText(item) }];
  }
}

/** Options shaping the body. */
export interface ResponsesBodyOptions {
  readonly model: string;
  /** Ask for encrypted reasoning (reasoning models only; others reject it). */
  readonly includeEncryptedReasoning: boolean;
  /** `reasoning` request field, e.g. `{ effort: "low", summary: "auto" }`. */
  readonly reasoning?: Record<string, unknown>;
  /** Send tools with `strict: true` (their schemas must then follow OpenAI's strict subset). */
  readonly strictTools?: boolean;
  readonly extraBody?: Record<string, unknown>;
}

/** The full streaming request body. `prompt_cache_key` is the thread id. */
export function responsesBody(request: ModelRequest, options: ResponsesBodyOptions): Json {
  const body: Json = {
    model: options.model,
    input: request.items.flatMap(inputItems),
    stream: true,
    store: false,
  };
  if (request.system !== "") body.instructions = request.system;
  if (options.includeEncryptedReasoning) body.include = ["reasoning.encrypted_content"];
  if (options.reasoning) body.reasoning = options.reasoning;
  if (request.tools.length > 0) {
    body.tools = request.tools.map((t) => ({
      type: "function",
      name: t.name,
      description: t.description,
      parameters: t.parameters,
      strict: options.strictTools ?? false,
    }));
    if (request.parallelToolCalls !== undefined) body.parallel_tool_calls = request.parallelToolCalls;
    const choice = request.toolChoice;
    if (choice !== undefined)
      body.tool_choice = typeof choice === "string" ? choice : { type: "function", name: choice.name };
  }
  const format = request.responseFormat;
  if (format) {
    body.text = {
      format: {
        type: "json_schema",
        name: format.name,
        schema: format.schema,
        strict: format.strict ?? false,
      },
    };
  }
  if (request.maxOutputTokens !== undefined) body.max_output_tokens = request.maxOutputTokens;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.threadId) body.prompt_cache_key = request.threadId;
  const extra = options.extraBody;
  if (!extra) return body;
  // `text` carries both the structured-output format and options such as verbosity.
  const text =
    typeof extra.text === "object" && extra.text !== null && body.text
      ? { text: { ...(body.text as Json), ...(extra.text as Json) } }
      : {};
  return { ...body, ...extra, ...text };
}
