import { checkModelOptions } from "../model-options.ts";
import { withRetry } from "../retry.ts";
import type { ModelClient } from "../types.ts";
import { createAnthropic } from "./anthropic.ts";
import { createDeepSeek } from "./deepseek.ts";
import { createGemini } from "./gemini.ts";
import { createOpenAIChat } from "./openai-chat.ts";
import { createOpenAIResponses } from "./openai-responses.ts";
import {
  ANTHROPIC_OPTIONS,
  DEEPSEEK_OPTIONS,
  GEMINI_OPTIONS,
  OPENAI_CHAT_OPTIONS,
  OPENAI_RESPONSES_OPTIONS,
  type ProviderOptionSpec,
} from "./options.ts";
import { apiKeyFromEnv } from "./runtime.ts";
import type { ProviderFactoryOptions } from "./shared.ts";

/**
 * The built-in providers behind `--model <provider>:<model>`: how each one finds its key
 * and builds its client. Keys come only from environment variables; `apiKeyEnv` names a
 * different variable, never a key.
 */

/** A provider the registry knows out of the box. */
export interface BuiltinProvider {
  /** Environment variables holding the key, in order of preference. */
  readonly keyVars: readonly string[];
  /** The model used for `provider` alone (no `:model`). */
  readonly defaultModel: string;
  /** Whether a key may be absent when a base URL points at another server (local servers). */
  readonly keyOptionalWithBaseUrl: boolean;
  /** The model options it accepts (validated before `create`). */
  readonly options: ProviderOptionSpec<object>;
  /** Builds the client; `client` holds what validated model options became (see `options.apply`). */
  create(
    model: string,
    apiKey: string | undefined,
    options: ProviderFactoryOptions,
    client?: Record<string, unknown>,
  ): Promise<ModelClient>;
}

const common = (options: ProviderFactoryOptions) => ({
  ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {}),
  ...(options.timeouts !== undefined ? { timeouts: options.timeouts } : {}),
  ...(options.catalog !== undefined ? { catalog: options.catalog } : {}),
});

/** Every built-in provider by name. `gemini` is an alias of `google`. */
export const BUILTIN_PROVIDERS: Readonly<Record<string, BuiltinProvider>> = {
  openai: {
    keyVars: ["OPENAI_API_KEY"],
    defaultModel: "gpt-5-mini",
    keyOptionalWithBaseUrl: true,
    options: OPENAI_RESPONSES_OPTIONS,
    create: (model, apiKey, o, c) =>
      createOpenAIResponses({ model, ...c, ...common(o), ...(apiKey !== undefined ? { apiKey } : {}) }),
  },
  "openai-chat": {
    keyVars: ["OPENAI_API_KEY"],
    defaultModel: "gpt-4.1-mini",
    keyOptionalWithBaseUrl: true,
    options: OPENAI_CHAT_OPTIONS,
    create: (model, apiKey, o, c) =>
      createOpenAIChat({ model, ...c, ...common(o), ...(apiKey !== undefined ? { apiKey } : {}) }),
  },
  deepseek: {
    keyVars: ["DEEPSEEK_API_KEY"],
    defaultModel: "deepseek-chat",
    keyOptionalWithBaseUrl: false,
    options: DEEPSEEK_OPTIONS,
    create: (model, apiKey, o, c) =>
      createDeepSeek({ model, ...c, ...common(o), ...(apiKey !== undefined ? { apiKey } : {}) }),
  },
  anthropic: {
    keyVars: ["ANTHROPIC_API_KEY"],
    defaultModel: "claude-haiku-4-5",
    keyOptionalWithBaseUrl: false,
    options: ANTHROPIC_OPTIONS,
    create: (model, apiKey, o, c) => createAnthropic({ model, ...c, apiKey: apiKey ?? "", ...common(o) }),
  },
  google: {
    keyVars: ["GEMINI_API_KEY", "GOOGLE_API_KEY"],
    defaultModel: "gemini-2.5-flash",
    keyOptionalWithBaseUrl: false,
    options: GEMINI_OPTIONS,
    create: (model, apiKey, o, c) => createGemini({ model, ...c, apiKey: apiKey ?? "", ...common(o) }),
  },
};

/**
 * Builds a client for a built-in provider: reads its key, creates the SDK client, and
 * wraps it in the retry policy (unless `retry: false`). Throws TaifengError
 * `missing_api_key` naming the variable, or `invalid_config` for a bad model option or when
 * the SDK is not installed.
 */
export async function createBuiltinModel(
  name: string,
  provider: BuiltinProvider,
  model: string,
  options: ProviderFactoryOptions,
): Promise<ModelClient> {
  const env = options.env ?? process.env;
  const vars = options.apiKeyEnv !== undefined ? [options.apiKeyEnv] : provider.keyVars;
  const optional =
    options.baseUrl !== undefined && provider.keyOptionalWithBaseUrl && options.apiKeyEnv === undefined;
  const spec = provider.options;
  const given = options.modelOptions;
  const clientOptions =
    given && Object.keys(given).length > 0
      ? spec.apply(checkModelOptions(name, spec.schema, spec.names, given))
      : {};
  const apiKey = optional ? vars.map((v) => env[v]?.trim()).find((v) => v) : apiKeyFromEnv(env, vars, name);
  const client = await provider.create(
    model === "" ? provider.defaultModel : model,
    apiKey,
    options,
    clientOptions as Record<string, unknown>,
  );
  return options.retry === false ? client : withRetry(client, options.retry ?? {});
}

/** Which provider a configured key selects when no model is given: the first whose key is set. */
export function defaultModelFromEnv(env: Readonly<Record<string, string | undefined>>): string | undefined {
  for (const name of ["openai", "anthropic", "google", "deepseek"]) {
    const provider = BUILTIN_PROVIDERS[name] as BuiltinProvider;
    if (provider.keyVars.some((v) => env[v]?.trim())) return `${name}:${provider.defaultModel}`;
  }
  return undefined;
}

export { type AiSdkOptions, aiSdkModel } from "./ai-sdk.ts";
export {
  type AnthropicOptions,
  anthropicClient,
  type CreateAnthropicOptions,
  createAnthropic,
} from "./anthropic.ts";
export { createDeepSeek, DEEPSEEK_BASE_URL } from "./deepseek.ts";
export { type CreateGeminiOptions, createGemini, type GeminiOptions, geminiClient } from "./gemini.ts";
export {
  type CreateOpenAIChatOptions,
  createOpenAIChat,
  type OpenAIChatOptions,
  openAIChatClient,
} from "./openai-chat.ts";
export {
  type ChatDialect,
  COMPATIBLE_DIALECT,
  DEEPSEEK_DIALECT,
  OPENAI_DIALECT,
} from "./openai-chat-request.ts";
export {
  type CreateOpenAIResponsesOptions,
  createOpenAIResponses,
  type OpenAIResponsesOptions,
  openAIResponsesClient,
} from "./openai-responses.ts";
export {
  ANTHROPIC_OPTIONS,
  AnthropicModelOptions,
  DEEPSEEK_OPTIONS,
  DeepSeekModelOptions,
  GEMINI_OPTIONS,
  GeminiModelOptions,
  OPENAI_CHAT_OPTIONS,
  OPENAI_RESPONSES_OPTIONS,
  OpenAIChatModelOptions,
  OpenAIResponsesModelOptions,
  type ProviderOptionSpec,
} from "./options.ts";
export { DEFAULT_TIMEOUTS, type ProviderTimeouts } from "./runtime.ts";
export type { ProviderFactoryOptions } from "./shared.ts";
