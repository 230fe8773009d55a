import { heuristicCounter, itemText, type TokenCounter } from "../../context/tokens.ts";
import type { ResponseItem } from "../../protocol/index.ts";
import type { ModelRequest, ToolSpec } from "../types.ts";

/** How the simulated provider caches prompt prefixes. */
export interface PrefixCacheOptions {
  /**
   * `anthropic`: explicit breakpoints, at most four: the request's `cacheBreakpoints` when
   * given (after the system prompt, before the last item), else the provider default (end of
   * tools, end of system, the end of the previous request, the last item); each breakpoint
   * reads the longest cached entry up to 20 blocks before it; writes billed separately.
   * `openai`: automatic; the longest cached prefix counts, in 128-token steps.
   * `gemini`: implicit, automatic; the longest cached prefix counts, token by token.
   */
  readonly style: "anthropic" | "openai" | "gemini";
  /** Shortest cacheable prefix. Default 1,024 tokens. */
  readonly minTokens?: number;
  /** Entry lifetime, refreshed on every hit. Default 5 minutes. */
  readonly ttlMs?: number;
  /** Clock, for tests that exercise expiry. Default `Date.now`. */
  readonly now?: () => number;
  /** Token counter for request segments. Default: the heuristic counter. */
  readonly counter?: TokenCounter;
}

/** Cache accounting for one request (normalized: `inputTokens` includes cached and written tokens). */
export interface CacheUsage {
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly cacheWriteTokens: number;
}

const LOOKBACK = 20;
const MAX_BREAKPOINTS = 4;
const OPENAI_STEP = 128;

/** 53-bit string hash (cyrb53): fast, well distributed, not cryptographic. */
function hash53(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * The segments of a request in provider order (tools, system, items): chained hashes and
 * running token totals. Kept between requests so that a request sharing its beginning with
 * the previous one (every call of an append-only thread) only hashes what is new.
 */
interface Segments {
  tools: readonly ToolSpec[] | undefined;
  system: string | undefined;
  items: ResponseItem[];
  keys: number[];
  ends: number[];
}

/**
 * A simulated provider-side prompt cache. Feed it every request in order; it answers how
 * many input tokens were read from cache and how many were written, the way the real APIs
 * report them, so cache hit ratios and costs can be measured without an API. Work per
 * request is proportional to what changed since the previous request, not to its length
 * (apart from an identity comparison of the items).
 */
export class PrefixCache {
  private readonly options: Required<Omit<PrefixCacheOptions, "counter">>;
  private readonly counter: TokenCounter;
  /** Expiry of each cached prefix, by segment key (automatic styles: only prefixes left behind by a rewrite). */
  private readonly entries = new Map<number, number>();
  private readonly itemInfo = new WeakMap<object, { hash: number; tokens: number }>();
  private readonly toolInfo = new WeakMap<readonly ToolSpec[], { hash: number; tokens: number }>();
  private readonly memo: Segments = { tools: undefined, system: undefined, items: [], keys: [], ends: [] };
  /** Automatic styles: the prefix cached by the last request, every part of it used at `touched`. */
  private chain: { keys: number[]; ends: number[]; touched: number } | undefined;

  constructor(options: PrefixCacheOptions) {
    this.options = {
      style: options.style,
      minTokens: options.minTokens ?? 1024,
      ttlMs: options.ttlMs ?? 300_000,
      now: options.now ?? Date.now,
    };
    this.counter = options.counter ?? heuristicCounter();
  }

  /** The simulated style. */
  get style(): PrefixCacheOptions["style"] {
    return this.options.style;
  }

  /** Input tokens of a request, as the cache counts them (does not touch the cache). */
  size(request: ModelRequest): number {
    return this.segments(request).ends.at(-1) ?? 0;
  }

  /** Accounts one request and updates the cache. */
  account(request: ModelRequest): CacheUsage {
    const seg = this.segments(request);
    const total = seg.ends.at(-1) ?? 0;
    const now = this.options.now();
    return this.options.style === "anthropic"
      ? this.anthropic(request, seg, total, now)
      : this.automatic(seg, total, now);
  }

  private automatic(seg: Segments, total: number, now: number): CacheUsage {
    const ttl = this.options.ttlMs;
    const chain = this.chain;
    let common = 0;
    if (chain) {
      const n = Math.min(chain.keys.length, seg.keys.length);
      while (common < n && chain.keys[common] === seg.keys[common]) common++;
    }
    const chainAlive = chain !== undefined && chain.touched + ttl >= now;
    let matched = 0;
    // Past the shared prefix, a prefix cached before an earlier rewrite may still match.
    for (let i = seg.keys.length - 1; i >= common && matched === 0; i--) {
      if (this.alive(seg.keys[i] as number, now)) matched = seg.ends[i] as number;
    }
    if (matched === 0 && common > 0) {
      if (chainAlive) matched = seg.ends[common - 1] as number;
      else {
        for (let i = common - 1; i >= 0 && matched === 0; i--)
          if (this.alive(seg.keys[i] as number, now)) matched = seg.ends[i] as number;
      }
    }
    if (chain && common < chain.keys.length && chainAlive) {
      // A rewrite leaves the old prefix behind: remember it (every part was used at `touched`).
      const min = this.options.minTokens;
      for (let i = 0; i < chain.keys.length; i++)
        if ((chain.ends[i] as number) >= min) this.entries.set(chain.keys[i] as number, chain.touched + ttl);
    }
    this.chain = { keys: seg.keys.slice(), ends: seg.ends.slice(), touched: now };
    const min = this.options.minTokens;
    const step = this.options.style === "openai" ? OPENAI_STEP : 1;
    const cached = matched < min ? 0 : min + Math.floor((matched - min) / step) * step;
    return { inputTokens: total, cachedInputTokens: cached, cacheWriteTokens: 0 };
  }

  private anthropic(request: ModelRequest, seg: Segments, total: number, now: number): CacheUsage {
    const breakpoints = anthropicBreakpoints(request, seg.keys.length);
    const min = this.options.minTokens;
    let matched = 0;
    for (const b of breakpoints) {
      for (let i = b; i >= Math.max(0, b - LOOKBACK); i--) {
        const end = seg.ends[i] as number;
        if (end <= matched) break;
        if (this.alive(seg.keys[i] as number, now)) {
          matched = end;
          break;
        }
      }
    }
    if (matched < min) matched = 0;
    let written = 0;
    for (const b of breakpoints) {
      const end = seg.ends[b] as number;
      if (end < min) continue;
      this.entries.set(seg.keys[b] as number, now + this.options.ttlMs);
      written = Math.max(written, end - matched);
    }
    return { inputTokens: total, cachedInputTokens: matched, cacheWriteTokens: Math.max(0, written) };
  }

  private alive(key: number, now: number): boolean {
    const expires = this.entries.get(key);
    if (expires === undefined) return false;
    if (expires < now) {
      this.entries.delete(key);
      return false;
    }
    this.entries.set(key, now + this.options.ttlMs);
    return true;
  }

  /** The request's segments, reusing those of the previous request it begins with. */
  private segments(request: ModelRequest): Segments {
    const m = this.memo;
    if (m.tools !== request.tools || m.system !== request.system) {
      m.tools = request.tools;
      m.system = request.system;
      m.items.length = 0;
      m.keys.length = 0;
      m.ends.length = 0;
      const tools = this.tools(request.tools);
      this.push(m, tools.hash, tools.tokens);
      this.push(m, hash53(request.system, 1), this.counter.count(request.system));
    }
    const items = request.items;
    let same = 0;
    const n = Math.min(items.length, m.items.length);
    while (same < n && items[same] === m.items[same]) same++;
    m.items.length = same;
    m.keys.length = same + 2;
    m.ends.length = same + 2;
    for (let i = same; i < items.length; i++) {
      const item = items[i] as ResponseItem;
      const info = this.item(item);
      m.items.push(item);
      this.push(m, info.hash, info.tokens);
    }
    return m;
  }

  private push(m: Segments, hash: number, tokens: number): void {
    const chain = m.keys.length === 0 ? 0 : (m.keys[m.keys.length - 1] as number);
    m.keys.push(hash53(`${chain}:${hash}`));
    m.ends.push((m.ends.length === 0 ? 0 : (m.ends[m.ends.length - 1] as number)) + tokens);
  }

  private tools(tools: readonly ToolSpec[]): { hash: number; tokens: number } {
    let info = this.toolInfo.get(tools);
    if (!info) {
      const text = JSON.stringify(tools);
      info = { hash: hash53(text, 2), tokens: this.counter.count(text) };
      this.toolInfo.set(tools, info);
    }
    return info;
  }

  private item(item: ResponseItem): { hash: number; tokens: number } {
    let info = this.itemInfo.get(item);
    if (!info) {
      info = { hash: hash53(JSON.stringify(item), 3), tokens: 4 + this.counter.count(itemText(item)) };
      this.itemInfo.set(item, info);
    }
    return info;
  }
}

/** True for items the provider sends in an assistant message. */
function assistantSide(item: ResponseItem): boolean {
  return (
    item.type === "function_call" ||
    item.type === "reasoning" ||
    (item.type === "message" && item.role === "assistant")
  );
}

/**
 * Segment indexes (0 = tools, 1 = system, 2 + i = item i) that carry a breakpoint, as the
 * Anthropic request translator places them: the request's `cacheBreakpoints` (item counts)
 * after the system prompt, the last item, and the end of the tools when a slot is left;
 * without hints, tools, system, the end of the previous request and the last item.
 */
export function anthropicBreakpoints(request: ModelRequest, segments: number): number[] {
  const last = segments - 1;
  const out: number[] = [];
  const add = (s: number) => {
    if (s >= 0 && s <= last && out.length < MAX_BREAKPOINTS && !out.includes(s)) out.push(s);
  };
  const hints = request.cacheBreakpoints;
  if (hints && hints.length > 0) {
    add(1);
    add(last);
    for (const n of hints.slice(0, MAX_BREAKPOINTS - 2)) if (n > 0) add(1 + n);
    add(0);
    return out;
  }
  add(0);
  add(1);
  add(last);
  // The previous request ended just before the latest run of assistant items.
  const items = request.items;
  let i = items.length - 1;
  while (i >= 0 && !assistantSide(items[i] as ResponseItem)) i--;
  while (i >= 0 && assistantSide(items[i] as ResponseItem)) i--;
  if (i >= 0) add(2 + i);
  return out;
}
