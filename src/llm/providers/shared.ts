import type { CompactionItem, ProviderData, ResponseItem, Usage } from "../../protocol/index.ts";
import type { ModelCatalog, ModelInfo } from "../catalog.ts";
import type { RetryPolicy } from "../retry.ts";
import type { ResponseFormat } from "../types.ts";
import type { ProviderTimeouts } from "./runtime.ts";

/** Options every provider client accepts. */
export interface CommonProviderOptions {
  /** The provider's model name, e.g. `gpt-5-mini`. */
  readonly model: string;
  /** Time limits of each call. */
  readonly timeouts?: ProviderTimeouts;
  /** Where context window, output limit and prices come from; default: the built-in catalog. */
  readonly catalog?: ModelCatalog;
}

/** Options the provider factories (`createModel`, `--model`) accept on top of the client's. */
export interface ProviderFactoryOptions {
  readonly baseUrl?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Read the API key from this variable instead of the provider's default one. */
  readonly apiKeyEnv?: string;
  readonly timeouts?: ProviderTimeouts;
  readonly catalog?: ModelCatalog;
  /** The retry policy wrapped around the client; `false` for none. */
  readonly retry?: RetryPolicy | false;
  /**
   * The provider's own options (thinking, reasoning, temperature, token limits, service
   * tier...) under the names its API documents; see docs/guides/providers.md. Validated:
   * an unknown option or a bad value is a TaifengError `invalid_config` naming it.
   */
  readonly modelOptions?: Readonly<Record<string, unknown>>;
}

/** The text a compaction summary is shown to the model as. */
export function compactionText(item: CompactionItem): string {
  return `Summary of the earlier conversation (${item.replacedItems} items replaced):\n${item.summary}`;
}

/** Maps each function call id in the history to its tool name (providers that key results by name). */
export function callNames(items: readonly ResponseItem[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const item of items) if (item.type === "function_call") names.set(item.callId, item.name);
  return names;
}

/** Parses tool-call arguments into an object; malformed or non-object JSON becomes `{}`. */
export function argsObject(args: string): Record<string, unknown> {
  if (args.trim() === "") return {};
  try {
    const value: unknown = JSON.parse(args);
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** `data:` URL for inline base64 content. */
export function dataUrl(mediaType: string, data: string): string {
  return `data:${mediaType};base64,${data}`;
}

/**
 * The structured-output fallback for APIs without native JSON Schema support: the
 * schema is appended to the system instructions, and the engine validates the answer
 * (and asks for a correction when it does not match).
 */
export function schemaInstruction(format: ResponseFormat): string {
  return `\n\nReply with only a JSON value (no prose, no code fence) that matches this JSON Schema (${format.name}):\n${JSON.stringify(format.schema)}`;
}

/** This provider's entry in an item's providerData. */
export function providerEntry(
  data: ProviderData | undefined,
  provider: string,
): Record<string, unknown> | undefined {
  const value = data?.[provider];
  return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
}

/** Reads a string field of a providerData entry. */
export function entryString(
  data: ProviderData | undefined,
  provider: string,
  field: string,
): string | undefined {
  const value = providerEntry(data, provider)?.[field];
  return typeof value === "string" ? value : undefined;
}

/** Builds a Usage from possibly-missing counters. */
export function usageOf(parts: Partial<Usage>): Usage {
  return {
    inputTokens: parts.inputTokens ?? 0,
    cachedInputTokens: parts.cachedInputTokens ?? 0,
    cacheWriteTokens: parts.cacheWriteTokens ?? 0,
    outputTokens: parts.outputTokens ?? 0,
    reasoningTokens: parts.reasoningTokens ?? 0,
  };
}

/** A number field or undefined. */
export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** Catalog entry for this provider and model, if any. */
export function modelInfo(
  catalog: ModelCatalog | undefined,
  provider: string,
  model: string,
): ModelInfo | undefined {
  return catalog?.lookup(provider, model);
}

/** The `finish` event's response id and model, leaving out what the provider did not send. */
export function responseMeta(
  id: unknown,
  model: unknown,
): { readonly responseId?: string; readonly responseModel?: string } {
  return {
    ...(typeof id === "string" && id !== "" ? { responseId: id } : {}),
    ...(typeof model === "string" && model !== "" ? { responseModel: model } : {}),
  };
}
