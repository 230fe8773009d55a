import { z } from "zod";
import { TaifengError } from "../errors.ts";
import type { Usage } from "../protocol/index.ts";

/**
 * The model catalog: what Taifeng knows about a model (context window, output limit and
 * list prices) so that it can size requests and report what each call cost. The built-in
 * entries are list prices at the date in CATALOG_PRICES_AS_OF; hosts extend or override
 * them with their own entries (negotiated prices, new models, local models at zero cost).
 */

/** Prices in USD per million tokens. Missing cache prices fall back to `input`. */
export const ModelPrices = z.object({
  input: z.number().nonnegative(),
  /** Reading input from the provider's prompt cache. */
  cachedInput: z.number().nonnegative().optional(),
  /** Writing input into the prompt cache (Anthropic's 5-minute cache write). */
  cacheWrite: z.number().nonnegative().optional(),
  output: z.number().nonnegative(),
});
export type ModelPrices = z.infer<typeof ModelPrices>;

/**
 * One catalog entry. `model` is the provider's model name (`gpt-5-mini`); `provider`
 * narrows the entry to one provider (`openai`, `openai-chat`...) when the same name means
 * something else elsewhere.
 */
export const ModelInfo = z.object({
  model: z.string().min(1),
  provider: z.string().min(1).optional(),
  contextWindow: z.number().int().positive(),
  maxOutputTokens: z.number().int().positive(),
  prices: ModelPrices.optional(),
  /** The model reasons before answering (OpenAI o-series and GPT-5, Claude thinking, Gemini 2.5+). */
  reasoning: z.boolean().optional(),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

/** When the built-in prices were last checked against the providers' price lists. */
export const CATALOG_PRICES_AS_OF = "2025-11-01";

const entry = (
  model: string,
  contextWindow: number,
  maxOutputTokens: number,
  prices: ModelPrices,
  reasoning = false,
): ModelInfo => ({ model, contextWindow, maxOutputTokens, prices, reasoning });

/** The built-in entries. */
export const BUILTIN_MODELS: readonly ModelInfo[] = [
  // OpenAI
  entry("gpt-5.1", 400_000, 128_000, { input: 1.25, cachedInput: 0.125, output: 10 }, true),
  entry("gpt-5", 400_000, 128_000, { input: 1.25, cachedInput: 0.125, output: 10 }, true),
  entry("gpt-5-mini", 400_000, 128_000, { input: 0.25, cachedInput: 0.025, output: 2 }, true),
  entry("gpt-5-nano", 400_000, 128_000, { input: 0.05, cachedInput: 0.005, output: 0.4 }, true),
  entry("gpt-4.1", 1_047_576, 32_768, { input: 2, cachedInput: 0.5, output: 8 }),
  entry("gpt-4.1-mini", 1_047_576, 32_768, { input: 0.4, cachedInput: 0.1, output: 1.6 }),
  entry("gpt-4.1-nano", 1_047_576, 32_768, { input: 0.1, cachedInput: 0.025, output: 0.4 }),
  entry("gpt-4o", 128_000, 16_384, { input: 2.5, cachedInput: 1.25, output: 10 }),
  entry("gpt-4o-mini", 128_000, 16_384, { input: 0.15, cachedInput: 0.075, output: 0.6 }),
  entry("o3", 200_000, 100_000, { input: 2, cachedInput: 0.5, output: 8 }, true),
  entry("o4-mini", 200_000, 100_000, { input: 1.1, cachedInput: 0.275, output: 4.4 }, true),
  // Anthropic (cache write = the 5-minute cache)
  entry(
    "claude-opus-4-5",
    200_000,
    64_000,
    { input: 5, cachedInput: 0.5, cacheWrite: 6.25, output: 25 },
    true,
  ),
  entry(
    "claude-opus-4-1",
    200_000,
    32_000,
    { input: 15, cachedInput: 1.5, cacheWrite: 18.75, output: 75 },
    true,
  ),
  entry(
    "claude-sonnet-4-5",
    200_000,
    64_000,
    { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
    true,
  ),
  entry(
    "claude-sonnet-4",
    200_000,
    64_000,
    { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
    true,
  ),
  entry(
    "claude-haiku-4-5",
    200_000,
    64_000,
    { input: 1, cachedInput: 0.1, cacheWrite: 1.25, output: 5 },
    true,
  ),
  entry("claude-3-5-haiku", 200_000, 8_192, { input: 0.8, cachedInput: 0.08, cacheWrite: 1, output: 4 }),
  // Google (prices for prompts up to 200k tokens)
  entry("gemini-3-pro-preview", 1_048_576, 65_536, { input: 2, cachedInput: 0.2, output: 12 }, true),
  entry("gemini-2.5-pro", 1_048_576, 65_536, { input: 1.25, cachedInput: 0.125, output: 10 }, true),
  entry("gemini-2.5-flash", 1_048_576, 65_536, { input: 0.3, cachedInput: 0.03, output: 2.5 }, true),
  entry("gemini-2.5-flash-lite", 1_048_576, 65_536, { input: 0.1, cachedInput: 0.01, output: 0.4 }, true),
  // DeepSeek (V3.2)
  entry("deepseek-chat", 128_000, 8_192, { input: 0.28, cachedInput: 0.028, output: 0.42 }),
  entry("deepseek-reasoner", 128_000, 65_536, { input: 0.28, cachedInput: 0.028, output: 0.42 }, true),
];

/** Dated or aliased suffixes stripped when looking a model up (`-2025-08-07`, `-20250929`, `-latest`). */
const SUFFIX = /(-\d{4}-\d{2}-\d{2}|-\d{8}|-latest|-preview-\d{2}-\d{4}|-\d{3})$/;

/**
 * A lookup table of ModelInfo. Each catalog is independent (no global state); `extend`
 * returns a new catalog, so a host can layer its entries over the built-ins.
 */
export class ModelCatalog {
  private readonly byKey = new Map<string, ModelInfo>();
  /** Answers of `forClient`, by client id (the catalog never changes; bounded by CLIENT_MEMO). */
  private readonly byClient = new Map<string, ModelInfo | null>();

  /** A catalog of `entries` (validated). Throws TaifengError `invalid_config` naming the bad entry. */
  constructor(entries: Iterable<unknown> = BUILTIN_MODELS) {
    let i = 0;
    for (const raw of entries) {
      const parsed = ModelInfo.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new TaifengError(
          "invalid_config",
          `model catalog entry ${i}: ${issue?.path.join(".") || "(entry)"}: ${issue?.message ?? "invalid"}`,
        );
      }
      this.byKey.set(key(parsed.data.provider, parsed.data.model), parsed.data);
      i++;
    }
  }

  /** A new catalog with these entries added (replacing entries with the same provider and model). */
  extend(entries: Iterable<unknown>): ModelCatalog {
    return new ModelCatalog([...this.byKey.values(), ...entries]);
  }

  /** Every entry. */
  get entries(): ModelInfo[] {
    return [...this.byKey.values()];
  }

  /**
   * Finds a model: `provider:model` first, then the bare model name, then both again with
   * date or `-latest` suffixes stripped (`gpt-4.1-nano-2025-04-14` -> `gpt-4.1-nano`).
   */
  lookup(provider: string, model: string): ModelInfo | undefined {
    let name = model;
    for (let i = 0; i < 3; i++) {
      const found = this.byKey.get(key(provider, name)) ?? this.byKey.get(key(undefined, name));
      if (found) return found;
      const stripped = name.replace(SUFFIX, "");
      if (stripped === name) break;
      name = stripped;
    }
    return undefined;
  }

  /**
   * The entry of a `provider:model` client id (ModelClient.id), if the catalog knows the
   * model. Answers are remembered: engines look their model up every time they open.
   */
  forClient(clientId: string): ModelInfo | undefined {
    const known = this.byClient.get(clientId);
    if (known !== undefined) return known ?? undefined;
    const at = clientId.indexOf(":");
    const found = at < 0 ? undefined : this.lookup(clientId.slice(0, at), clientId.slice(at + 1));
    if (this.byClient.size >= CLIENT_MEMO) this.byClient.clear();
    this.byClient.set(clientId, found ?? null);
    return found;
  }
}

/** Client ids whose lookups a catalog remembers before starting over. */
const CLIENT_MEMO = 256;

function key(provider: string | undefined, model: string): string {
  return provider === undefined ? model : `${provider}:${model}`;
}

let builtin: ModelCatalog | undefined;

/** The built-in catalog, built once (it is immutable: `extend` returns a new catalog). */
export function builtinCatalog(): ModelCatalog {
  builtin ??= new ModelCatalog();
  return builtin;
}

/**
 * What `usage` cost at `prices`, in USD. Uncached input is `inputTokens` minus cache reads
 * and writes (Usage counts all three in `inputTokens`); reasoning is billed as output.
 */
export function costOf(usage: Usage, prices: ModelPrices): number {
  const uncached = Math.max(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens);
  const micro =
    uncached * prices.input +
    usage.cachedInputTokens * (prices.cachedInput ?? prices.input) +
    usage.cacheWriteTokens * (prices.cacheWrite ?? prices.input) +
    usage.outputTokens * prices.output;
  // Round to 1e-9 USD so sums of many calls stay readable.
  return Math.round(micro * 1000) / 1e9;
}
