import type { ContentPart, ResponseItem, ToolOutput } from "../../protocol/index.ts";
import { messageText, toolOutputText } from "../../protocol/index.ts";
import type { ModelRequest } from "../types.ts";
import { argsObject, callNames, compactionText, entryString } from "./shared.ts";

/**
 * Builds Gemini `generateContent` parameters for `@google/genai`: history as contents
 * with thought signatures put back on the parts they came with, tools as function
 * declarations with JSON Schema, structured output as `responseJsonSchema`.
 */

type Json = Record<string, unknown>;
type Content = { role: "user" | "model"; parts: Json[] };

/** The providerData key the Gemini client owns. */
export const GOOGLE_DATA = "google";

/**
 * Gemini 3 validates that a model turn's first function call carries a thought signature.
 * Calls made by another model (after a fallback or a rewrite) have none; Google documents
 * this value for exactly that case.
 */
export const SKIP_SIGNATURE = "skip_thought_signature_validator";

function userPart(p: ContentPart): Json | undefined {
  switch (p.type) {
    case "text":
      return p.text === "" ? undefined : { text: p.text };
    case "image":
    case "file":
      return p.data !== undefined
        ? { inlineData: { mimeType: p.mediaType, data: p.data } }
        : { fileData: { mimeType: p.mediaType, fileUri: p.url ?? "" } };
  }
}

function withSignature(part: Json, signature: string | undefined): Json {
  return signature === undefined ? part : { ...part, thoughtSignature: signature };
}

function responseOf(output: ToolOutput, isError: boolean | undefined): Json {
  const text = toolOutputText(output);
  return isError ? { error: text } : { output: text };
}

function partsOf(item: ResponseItem, names: Map<string, string>): { role: Content["role"]; parts: Json[] } {
  const signature = entryString(item.providerData, GOOGLE_DATA, "thoughtSignature");
  switch (item.type) {
    case "message":
      if (item.role === "assistant") {
        const text = messageText(item);
        return {
          role: "model",
          parts: text === "" && !signature ? [] : [withSignature({ text }, signature)],
        };
      }
      if (item.role === "system")
        return { role: "user", parts: [{ text: `<system-reminder>${messageText(item)}</system-reminder>` }] };
      return { role: "user", parts: item.content.map(userPart).filter((p): p is Json => p !== undefined) };
    case "reasoning":
      // Thoughts are only replayed for their signature; other providers' reasoning is dropped.
      return {
        role: "model",
        parts: signature ? [{ text: item.text, thought: true, thoughtSignature: signature }] : [],
      };
    case "function_call": {
      const call: Json = { name: item.name, args: argsObject(item.arguments) };
      const id = entryString(item.providerData, GOOGLE_DATA, "id");
      if (id !== undefined) call.id = id;
      return { role: "model", parts: [withSignature({ functionCall: call }, signature)] };
    }
    case "function_call_output": {
      const response: Json = {
        name: names.get(item.callId) ?? "unknown",
        response: responseOf(item.output, item.isError),
      };
      const parts: Json[] = [{ functionResponse: response }];
      if (typeof item.output !== "string") {
        for (const p of item.output) if (p.type === "image") parts.push(userPart(p) as Json);
      }
      return { role: "user", parts };
    }
    case "compaction":
      return { role: "user", parts: [{ text: compactionText(item) }] };
  }
}

/** The history as Gemini contents (consecutive parts of one role merged). */
export function geminiContents(items: readonly ResponseItem[], model: string): Content[] {
  const names = callNames(items);
  const ids = new Map<string, string>();
  for (const item of items) {
    const id = item.type === "function_call" ? entryString(item.providerData, GOOGLE_DATA, "id") : undefined;
    if (id !== undefined && item.type === "function_call") ids.set(item.callId, id);
  }
  const contents: Content[] = [];
  for (const item of items) {
    const { role, parts } = partsOf(item, names);
    if (item.type === "function_call_output") {
      const id = ids.get(item.callId);
      if (id !== undefined) (parts[0]?.functionResponse as Json).id = id;
    }
    if (parts.length === 0) continue;
    const last = contents.at(-1);
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts: [...parts] });
  }
  if (/^gemini-3/.test(model)) {
    for (const content of contents) {
      if (content.role !== "model") continue;
      const first = content.parts.find((p) => p.functionCall !== undefined);
      if (first && first.thoughtSignature === undefined) first.thoughtSignature = SKIP_SIGNATURE;
    }
  }
  return contents;
}

/** Options shaping the parameters. */
export interface GeminiParamsOptions {
  readonly model: string;
  /** `thinkingConfig`, e.g. `{ includeThoughts: true, thinkingBudget: 2048 }`. */
  readonly thinking?: Record<string, unknown>;
  readonly extraConfig?: Record<string, unknown>;
}

/** Parameters for `ai.models.generateContentStream` (without the abort signal). */
export function geminiParams(request: ModelRequest, options: GeminiParamsOptions): Json {
  const config: Json = {
    // One retry policy: no SDK-side continuation or automatic function calling.
    automaticContinuation: false,
    automaticFunctionCalling: { disable: true },
  };
  if (request.system !== "") config.systemInstruction = request.system;
  if (request.tools.length > 0) {
    config.tools = [
      {
        functionDeclarations: request.tools.map((t) => ({
          name: t.name,
          description: t.description,
          parametersJsonSchema: t.parameters,
        })),
      },
    ];
    const choice = request.toolChoice;
    if (choice !== undefined) {
      config.toolConfig = {
        functionCallingConfig:
          typeof choice === "string"
            ? { mode: choice === "required" ? "ANY" : choice === "none" ? "NONE" : "AUTO" }
            : { mode: "ANY", allowedFunctionNames: [choice.name] },
      };
    }
  }
  if (request.responseFormat) {
    config.responseMimeType = "application/json";
    config.responseJsonSchema = request.responseFormat.schema;
  }
  if (request.maxOutputTokens !== undefined) config.maxOutputTokens = request.maxOutputTokens;
  if (request.temperature !== undefined) config.temperature = request.temperature;
  if (options.thinking) config.thinkingConfig = options.thinking;
  return {
    model: options.model,
    contents: geminiContents(request.items, options.model),
    config: options.extraConfig ? { ...config, ...options.extraConfig } : config,
  };
}
