import type { ModelClient } from "../types.ts";
import { type CreateOpenAIChatOptions, openAIChatClient, openAISdk } from "./openai-chat.ts";
import { DEEPSEEK_DIALECT } from "./openai-chat-request.ts";

/** DeepSeek's API endpoint. */
export const DEEPSEEK_BASE_URL = "https://api.deepseek.com";

/**
 * A DeepSeek model (`deepseek-chat`, `deepseek-reasoner`) on the OpenAI SDK with the
 * DeepSeek dialect: `reasoning_content` streams as reasoning and is sent back within a
 * tool loop (DeepSeek requires it there and ignores it across turns), structured output
 * uses JSON mode plus the schema in the system prompt, and cache hits are read from
 * `prompt_cache_hit_tokens`.
 */
export async function createDeepSeek(options: CreateOpenAIChatOptions): Promise<ModelClient> {
  const client = await openAISdk({ ...options, baseUrl: options.baseUrl ?? DEEPSEEK_BASE_URL });
  return openAIChatClient(client, {
    ...options,
    provider: options.provider ?? "deepseek",
    dialect: { ...DEEPSEEK_DIALECT, ...options.dialect },
  });
}
