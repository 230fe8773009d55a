import { heuristicCounter, itemText, type TokenCounter } from "../../context/tokens.ts";
import type { ResponseItem } from "../../protocol/index.ts";
import type { ModelRequest, ToolSpec } from "../types.ts";

/** How the simulated provider caches prompt prefixes. */
export interface PrefixCacheOptions {
  /**
   * `anthropic`: explicit breakpoints (end of tools, end of system, last item), lookback of
   * 20 blocks from each breakpoint, writes billed separately.
   * `openai`: automatic; the longest cached prefix counts, in 128-token steps.
   */
  readonly style: "anthropic" | "openai";
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

interface Segment {
  readonly key: string;
  /** Tokens from the start of the prompt through this segment. */
  readonly end: number;
}

/**
 * A simulated provider-side prompt cache. Feed it every request in order; it answers how
 * many input tokens were read from cache and how many were written, the way the real APIs
 * report them, so cache hit ratios and costs can be measured without an API.
 */
export class PrefixCache {
  private readonly options: Required<Omit<PrefixCacheOptions, "counter">>;
  private readonly counter: TokenCounter;
  private readonly entries = new Map<string, number>();
  private readonly itemInfo = new WeakMap<object, { hash: number; tokens: number }>();
  private readonly toolInfo = new WeakMap<readonly ToolSpec[], { hash: number; tokens: number }>();

  constructor(options: PrefixCacheOptions) {
    this.options = {
      style: options.style,
      minTokens: options.minTokens ?? 1024,
      ttlMs: options.ttlMs ?? 300_000,
      now: options.now ?? Date.now,
    };
    this.counter = options.counter ?? heuristicCounter();
  }

  /** Input tokens of a request, as the cache counts them (does not touch the cache). */
  size(request: ModelRequest): number {
    return this.segments(request).at(-1)?.end ?? 0;
  }

  /** Accounts one request and updates the cache. */
  account(request: ModelRequest): CacheUsage {
    const segments = this.segments(request);
    const total = segments.at(-1)?.end ?? 0;
    const now = this.options.now();
    return this.options.style === "openai"
      ? this.openai(segments, total, now)
      : this.anthropic(segments, total, now);
  }

  private openai(segments: readonly Segment[], total: number, now: number): CacheUsage {
    let matched = 0;
    for (let i = segments.length - 1; i >= 0; i--) {
      const seg = segments[i] as Segment;
      if (this.alive(seg.key, now)) {
        matched = seg.end;
        break;
      }
    }
    const min = this.options.minTokens;
    const cached = matched < min ? 0 : min + Math.floor((matched - min) / OPENAI_STEP) * OPENAI_STEP;
    for (const seg of segments) if (seg.end >= min) this.entries.set(seg.key, now + this.options.ttlMs);
    return { inputTokens: total, cachedInputTokens: cached, cacheWriteTokens: 0 };
  }

  private anthropic(segments: readonly Segment[], total: number, now: number): CacheUsage {
    // Breakpoints: end of tools (0), end of system (1), the last item.
    const breakpoints = [...new Set([0, 1, segments.length - 1])].filter(
      (b) => b >= 0 && b < segments.length,
    );
    const min = this.options.minTokens;
    let matched = 0;
    for (const b of breakpoints) {
      for (let i = b; i >= Math.max(0, b - LOOKBACK); i--) {
        const seg = segments[i] as Segment;
        if (seg.end > matched && this.alive(seg.key, now)) {
          matched = seg.end;
          break;
        }
      }
    }
    if (matched < min) matched = 0;
    let written = 0;
    for (const b of breakpoints) {
      const seg = segments[b] as Segment;
      if (seg.end < min) continue;
      this.entries.set(seg.key, now + this.options.ttlMs);
      written = Math.max(written, seg.end - matched);
    }
    return { inputTokens: total, cachedInputTokens: matched, cacheWriteTokens: Math.max(0, written) };
  }

  private alive(key: string, now: number): boolean {
    const expires = this.entries.get(key);
    if (expires === undefined) return false;
    if (expires < now) {
      this.entries.delete(key);
      return false;
    }
    this.entries.set(key, now + this.options.ttlMs);
    return true;
  }

  /** Segments in provider order (tools, system, items), with chained hashes and running token totals. */
  private segments(request: ModelRequest): Segment[] {
    const out: Segment[] = [];
    let chain = 0;
    let end = 0;
    const push = (info: { hash: number; tokens: number }) => {
      chain = hash53(`${chain}:${info.hash}`);
      end += info.tokens;
      out.push({ key: chain.toString(36), end });
    };
    push(this.tools(request.tools));
    push({ hash: hash53(request.system, 1), tokens: this.counter.count(request.system) });
    for (const item of request.items) push(this.item(item));
    return out;
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
