/**
 * Model options of the built-in providers: the knobs each provider documents (thinking,
 * reasoning, temperature, token limits, service tier...), under the provider's own names,
 * reachable through `createModel(spec, { modelOptions })`, `--model-option key=value`
 * and options inside a spec (`anthropic:claude-sonnet-4-5?thinking.budget_tokens=4000`).
 * Each provider's set is a strict zod schema: an unknown option is an error that names it.
 */
import { z } from "zod";
import type { CreateAnthropicOptions } from "./anthropic.ts";
import type { CreateGeminiOptions } from "./gemini.ts";
import type { CreateOpenAIChatOptions } from "./openai-chat.ts";
import type { CreateOpenAIResponsesOptions } from "./openai-responses.ts";

const unit = z.number().min(0).max(1);
const temperature2 = z.number().min(0).max(2);
const penalty = z.number().min(-2).max(2);
const positiveInt = z.number().int().positive();
const extra = z.record(z.string(), z.unknown());
const effort = z.enum(["none", "minimal", "low", "medium", "high", "xhigh"]);
const openaiTier = z.enum(["auto", "default", "flex", "scale", "priority"]);
const stop = z.union([z.string(), z.array(z.string()).max(4)]);

// `thinking.budget_tokens=4000` alone means extended thinking with that budget.
const anthropicThinking = z.preprocess(
  (v) =>
    v !== null && typeof v === "object" && !("type" in v) && "budget_tokens" in v
      ? { type: "enabled", ...v }
      : v,
  z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("enabled"), budget_tokens: z.number().int().min(1024) }),
    z.strictObject({ type: z.literal("adaptive") }),
    z.strictObject({ type: z.literal("disabled") }),
  ]),
);

/** Anthropic Messages: https://docs.claude.com/en/api/messages (plus Taifeng's `cache`, `structured_output`). */
export const AnthropicModelOptions = z
  .strictObject({
    thinking: anthropicThinking.optional(),
    max_tokens: positiveInt.optional(),
    temperature: unit.optional(),
    top_p: unit.optional(),
    top_k: z.number().int().nonnegative().optional(),
    stop_sequences: z.array(z.string()).optional(),
    service_tier: z.enum(["auto", "standard_only"]).optional(),
    metadata: z.strictObject({ user_id: z.string() }).optional(),
    cache: z.boolean().optional(),
    structured_output: z.enum(["native", "prompt"]).optional(),
    extra_body: extra.optional(),
  })
  .superRefine((o, ctx) => {
    if (o.thinking?.type !== "enabled") return;
    if (o.temperature !== undefined || o.top_k !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["thinking"],
        message: "Anthropic does not accept temperature or top_k with extended thinking",
      });
    if (o.max_tokens !== undefined && o.thinking.budget_tokens >= o.max_tokens)
      ctx.addIssue({
        code: "custom",
        path: ["thinking", "budget_tokens"],
        message: "must be less than max_tokens",
      });
  });
export type AnthropicModelOptions = z.infer<typeof AnthropicModelOptions>;

/** OpenAI Responses: https://platform.openai.com/docs/api-reference/responses/create (plus `encrypted_reasoning`, `strict_tools`). */
export const OpenAIResponsesModelOptions = z.strictObject({
  reasoning: z
    .strictObject({ effort: effort.optional(), summary: z.enum(["auto", "concise", "detailed"]).optional() })
    .optional(),
  text: z.strictObject({ verbosity: z.enum(["low", "medium", "high"]) }).optional(),
  max_output_tokens: positiveInt.optional(),
  max_tool_calls: positiveInt.optional(),
  temperature: temperature2.optional(),
  top_p: unit.optional(),
  service_tier: openaiTier.optional(),
  truncation: z.enum(["auto", "disabled"]).optional(),
  parallel_tool_calls: z.boolean().optional(),
  prompt_cache_retention: z.enum(["in-memory", "24h"]).optional(),
  safety_identifier: z.string().optional(),
  user: z.string().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  encrypted_reasoning: z.boolean().optional(),
  strict_tools: z.boolean().optional(),
  extra_body: extra.optional(),
});
export type OpenAIResponsesModelOptions = z.infer<typeof OpenAIResponsesModelOptions>;

/** Chat Completions: https://platform.openai.com/docs/api-reference/chat/create (and compatible servers). */
export const OpenAIChatModelOptions = z.strictObject({
  reasoning_effort: effort.optional(),
  verbosity: z.enum(["low", "medium", "high"]).optional(),
  max_completion_tokens: positiveInt.optional(),
  max_tokens: positiveInt.optional(),
  temperature: temperature2.optional(),
  top_p: unit.optional(),
  frequency_penalty: penalty.optional(),
  presence_penalty: penalty.optional(),
  seed: z.number().int().optional(),
  stop: stop.optional(),
  logit_bias: z.record(z.string(), z.number().min(-100).max(100)).optional(),
  service_tier: openaiTier.optional(),
  parallel_tool_calls: z.boolean().optional(),
  prompt_cache_retention: z.enum(["in-memory", "24h"]).optional(),
  safety_identifier: z.string().optional(),
  user: z.string().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  extra_body: extra.optional(),
});
export type OpenAIChatModelOptions = z.infer<typeof OpenAIChatModelOptions>;

/** DeepSeek: https://api-docs.deepseek.com/api/create-chat-completion */
export const DeepSeekModelOptions = z.strictObject({
  thinking: z.strictObject({ type: z.enum(["enabled", "disabled"]) }).optional(),
  max_tokens: positiveInt.optional(),
  temperature: temperature2.optional(),
  top_p: unit.optional(),
  frequency_penalty: penalty.optional(),
  presence_penalty: penalty.optional(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).optional(),
  extra_body: extra.optional(),
});
export type DeepSeekModelOptions = z.infer<typeof DeepSeekModelOptions>;

/** Gemini `GenerateContentConfig` (SDK names): https://ai.google.dev/api/generate-content */
export const GeminiModelOptions = z.strictObject({
  thinkingConfig: z
    .strictObject({
      thinkingBudget: z.number().int().min(-1).optional(),
      includeThoughts: z.boolean().optional(),
      thinkingLevel: z
        .string()
        .transform((s) => s.toUpperCase())
        .pipe(z.enum(["MINIMAL", "LOW", "MEDIUM", "HIGH"]))
        .optional(),
    })
    .optional(),
  maxOutputTokens: positiveInt.optional(),
  temperature: temperature2.optional(),
  topP: unit.optional(),
  topK: z.number().int().positive().optional(),
  stopSequences: z.array(z.string()).max(5).optional(),
  seed: z.number().int().optional(),
  presencePenalty: penalty.optional(),
  frequencyPenalty: penalty.optional(),
  safetySettings: z.array(z.strictObject({ category: z.string(), threshold: z.string() })).optional(),
  mediaResolution: z.string().optional(),
  extraConfig: extra.optional(),
});
export type GeminiModelOptions = z.infer<typeof GeminiModelOptions>;

/** A provider's options: how they are validated, and the client options they become. */
export interface ProviderOptionSpec<C> {
  readonly schema: z.ZodType;
  /** Top-level option names, for messages and for chains that share options. */
  readonly names: readonly string[];
  /** Client options for validated `options` (merged into the client's create options). */
  apply(options: Record<string, unknown>): Partial<C>;
}

/** The body fields left after taking out the ones a client maps itself. */
function rest(
  options: Record<string, unknown>,
  taken: readonly string[],
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!taken.includes(k) && v !== undefined) out[k] = v;
  const extraBody = options.extra_body as Record<string, unknown> | undefined;
  const merged = { ...out, ...extraBody };
  delete merged.extra_body;
  return Object.keys(merged).length > 0 ? merged : undefined;
}

const keys = (schema: z.ZodObject): string[] => Object.keys(schema.shape).sort();

/** Anthropic: thinking, max_tokens, cache and structured_output map to client options; the rest go in the body. */
export const ANTHROPIC_OPTIONS: ProviderOptionSpec<CreateAnthropicOptions> = {
  schema: AnthropicModelOptions,
  names: keys(AnthropicModelOptions),
  apply(o) {
    const a = o as AnthropicModelOptions;
    const body = rest(o, ["thinking", "max_tokens", "cache", "structured_output"]);
    return {
      ...(a.thinking ? { thinking: a.thinking } : {}),
      ...(a.max_tokens !== undefined ? { maxTokens: a.max_tokens } : {}),
      ...(a.cache !== undefined ? { cache: a.cache } : {}),
      ...(a.structured_output ? { structuredOutput: a.structured_output } : {}),
      ...(body ? { extraBody: body } : {}),
    };
  },
};

/** OpenAI Responses: reasoning, encrypted_reasoning and strict_tools map to client options; the rest go in the body. */
export const OPENAI_RESPONSES_OPTIONS: ProviderOptionSpec<CreateOpenAIResponsesOptions> = {
  schema: OpenAIResponsesModelOptions,
  names: keys(OpenAIResponsesModelOptions),
  apply(o) {
    const a = o as OpenAIResponsesModelOptions;
    const body = rest(o, ["reasoning", "encrypted_reasoning", "strict_tools"]);
    return {
      ...(a.reasoning ? { reasoning: a.reasoning } : {}),
      ...(a.encrypted_reasoning !== undefined ? { encryptedReasoning: a.encrypted_reasoning } : {}),
      ...(a.strict_tools !== undefined ? { strictTools: a.strict_tools } : {}),
      ...(body ? { extraBody: body } : {}),
    };
  },
};

/** Chat Completions: every option goes in the body. */
export const OPENAI_CHAT_OPTIONS: ProviderOptionSpec<CreateOpenAIChatOptions> = {
  schema: OpenAIChatModelOptions,
  names: keys(OpenAIChatModelOptions),
  apply(o) {
    const body = rest(o, []);
    return body ? { extraBody: body } : {};
  },
};

/** DeepSeek: every option goes in the body. */
export const DEEPSEEK_OPTIONS: ProviderOptionSpec<CreateOpenAIChatOptions> = {
  schema: DeepSeekModelOptions,
  names: keys(DeepSeekModelOptions),
  apply(o) {
    const body = rest(o, []);
    return body ? { extraBody: body } : {};
  },
};

/** Gemini: thinkingConfig maps to `thinking`; the rest go in the request's `config`. */
export const GEMINI_OPTIONS: ProviderOptionSpec<CreateGeminiOptions> = {
  schema: GeminiModelOptions,
  names: keys(GeminiModelOptions),
  apply(o) {
    const a = o as GeminiModelOptions;
    const config: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (k !== "thinkingConfig" && k !== "extraConfig") config[k] = v;
    Object.assign(config, a.extraConfig);
    return {
      ...(a.thinkingConfig ? { thinking: a.thinkingConfig } : {}),
      ...(Object.keys(config).length > 0 ? { extraConfig: config } : {}),
    };
  },
};
