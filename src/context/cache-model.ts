import type { ModelPrices } from "../llm/catalog.ts";
import type { CacheStyle } from "../llm/types.ts";

/**
 * What a provider's prompt cache does, in the terms the compaction planner prices: how long
 * a prefix must be to be cached, how finely a cached prefix is counted, how long an entry
 * lives, and (explicit styles) how many breakpoints a request may carry.
 */
export interface CacheProfile {
  readonly style: CacheStyle;
  /** Shortest prefix the provider caches, in tokens. */
  readonly minTokens: number;
  /** Cached prefixes are counted in steps of this many tokens past `minTokens` (OpenAI: 128). */
  readonly step: number;
  /** An entry expires this long after its last use. */
  readonly ttlMs: number;
  /** Explicit breakpoints a request may carry (Anthropic: 4); 0 for automatic caching. */
  readonly breakpoints: number;
}

const PROFILES: Record<CacheStyle, CacheProfile> = {
  anthropic: { style: "anthropic", minTokens: 1024, step: 1, ttlMs: 300_000, breakpoints: 4 },
  openai: { style: "openai", minTokens: 1024, step: 128, ttlMs: 300_000, breakpoints: 0 },
  gemini: { style: "gemini", minTokens: 1024, step: 1, ttlMs: 300_000, breakpoints: 0 },
  none: { style: "none", minTokens: Number.POSITIVE_INFINITY, step: 1, ttlMs: 0, breakpoints: 0 },
};

/** The profile of a cache style with its usual parameters. */
export function cacheProfile(style: CacheStyle, overrides: Partial<CacheProfile> = {}): CacheProfile {
  return { ...PROFILES[style], ...overrides };
}

/**
 * The cache profile a model id (`provider:model`) most likely has: Anthropic's explicit
 * breakpoints (with the per-model minimum: 4,096 tokens for Opus 4.5 and Haiku 4.5, 2,048
 * for older Haiku models), Gemini's implicit caching (4,096 for Pro models, 2,048 for
 * Flash-Lite), OpenAI's automatic prefix caching for OpenAI, Azure and DeepSeek; `hint` (the
 * client's own `cacheStyle`) wins. An unknown provider is assumed to cache automatically,
 * as most do: assuming no cache would rewrite the prefix on every call where one exists.
 */
export function cacheProfileFor(modelId: string, hint?: CacheStyle): CacheProfile {
  const at = modelId.indexOf(":");
  const provider = at < 0 ? "" : modelId.slice(0, at).toLowerCase();
  const model = (at < 0 ? modelId : modelId.slice(at + 1)).toLowerCase();
  const style: CacheStyle =
    hint ??
    (provider.startsWith("anthropic")
      ? "anthropic"
      : provider === "google" || provider.startsWith("gemini") || provider.startsWith("vertex")
        ? "gemini"
        : provider === "sim"
          ? "none"
          : model.startsWith("gemini")
            ? "gemini"
            : "openai");
  if (style === "anthropic") {
    if (/opus-4-5|haiku-4-5/.test(model)) return cacheProfile(style, { minTokens: 4096 });
    if (/haiku/.test(model)) return cacheProfile(style, { minTokens: 2048 });
  }
  if (style === "gemini") {
    if (/pro/.test(model)) return cacheProfile(style, { minTokens: 4096 });
    if (/flash-lite/.test(model)) return cacheProfile(style, { minTokens: 2048 });
  }
  if (style === "openai" && (provider === "deepseek" || model.startsWith("deepseek")))
    return cacheProfile(style, { step: 64, minTokens: 64 });
  return cacheProfile(style);
}

/**
 * Prices of one model relative to its uncached input price, with the profile they apply to.
 * All planner costs are in "input-token equivalents": a cost of 1,000 is what 1,000 uncached
 * input tokens cost. `inputUsdPerToken` converts them to dollars when the catalog knows the
 * model's prices.
 */
export interface CacheCosts {
  readonly profile: CacheProfile;
  /** Reading a cached token. */
  readonly read: number;
  /** Sending a token that was not cached (and, where writes are billed, caching it). */
  readonly write: number;
  /** An output token (what a summary call's answer costs). */
  readonly output: number;
  /** USD per uncached input token, when known. */
  readonly inputUsdPerToken: number | undefined;
}

/** Relative prices used when the catalog does not know the model: typical list-price ratios. */
const DEFAULT_RATIOS: Record<CacheStyle, { read: number; write: number }> = {
  anthropic: { read: 0.1, write: 1.25 },
  openai: { read: 0.1, write: 1 },
  gemini: { read: 0.1, write: 1 },
  none: { read: 1, write: 1 },
};
const DEFAULT_OUTPUT_RATIO = 5;

/**
 * The relative prices of a cache profile: from the catalog's `prices` when given (a missing
 * cache price means the provider bills that token as input, as `costOf` does), else the
 * style's typical ratios. A style without a cache reads and writes at the input price.
 */
export function cacheCosts(profile: CacheProfile, prices?: ModelPrices): CacheCosts {
  const ratios = DEFAULT_RATIOS[profile.style];
  if (!prices || prices.input <= 0) {
    return { profile, ...ratios, output: DEFAULT_OUTPUT_RATIO, inputUsdPerToken: undefined };
  }
  const none = profile.style === "none";
  return {
    profile,
    read: none ? 1 : (prices.cachedInput ?? prices.input) / prices.input,
    write: profile.style === "anthropic" ? (prices.cacheWrite ?? prices.input) / prices.input : 1,
    output: prices.output / prices.input,
    inputUsdPerToken: prices.input / 1e6,
  };
}

/**
 * The prefix (in tokens) a provider would serve from cache when a request shares its first
 * `shared` tokens with what is cached: nothing under the minimum, whole steps past it.
 */
export function servedPrefix(profile: CacheProfile, shared: number): number {
  if (shared < profile.minTokens) return 0;
  if (profile.step <= 1) return shared;
  return profile.minTokens + Math.floor((shared - profile.minTokens) / profile.step) * profile.step;
}

/**
 * One-time cost of rewriting the history so that only its first `kept` tokens stay cached,
 * when `cached` tokens were cached, `removed` of them are removed and the rewritten prompt is
 * `after` tokens long: the tail that was cached and survives the rewrite must be sent (and
 * written) again instead of read. (Removed tokens the provider had not cached yet, such as
 * the output of the current step, are not part of `removed`.)
 * The per-call saving of the tokens removed is not included (see `rewriteSaving`).
 */
export function rewriteCost(
  costs: CacheCosts,
  rewrite: {
    readonly kept: number;
    readonly cached: number;
    readonly after: number;
    readonly removed: number;
  },
): number {
  const served = servedPrefix(costs.profile, rewrite.kept);
  // The cached tail [served, cached) shrinks by what was removed; what is left of it is resent.
  const resent = Math.max(0, Math.min(rewrite.after, rewrite.cached - rewrite.removed) - served);
  return resent * Math.max(0, costs.write - costs.read);
}

/** What removing `removed` tokens saves over `calls` later calls (each would have read them from cache). */
export function rewriteSaving(costs: CacheCosts, removed: number, calls: number): number {
  return removed * costs.read * calls;
}

/**
 * The batch size that minimizes the cost per call of trimming a history that gains
 * `growth` trimmable tokens per call, when each trim costs `rewrite`: the square-root rule
 * (trim when the reads paid for the trimmable tokens equal the rewrite), sqrt(2 * rewrite
 * * growth / read). Zero without a cache: every call should trim.
 */
export function batchTokens(costs: CacheCosts, rewrite: number, growth: number): number {
  if (rewrite <= 0 || growth <= 0) return 0;
  return Math.sqrt((2 * rewrite * growth) / costs.read);
}

/** Dollars of `tokens` input-token equivalents, when the input price is known. */
export function usdOf(costs: CacheCosts, tokens: number): number | undefined {
  if (costs.inputUsdPerToken === undefined) return undefined;
  return Math.round(tokens * costs.inputUsdPerToken * 1e6) / 1e6;
}
