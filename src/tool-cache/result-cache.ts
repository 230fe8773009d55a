/** A result cache for read-only tools: same tool, same canonical input, within the TTL -> same output. */
import { TaifengError } from "../errors.ts";
import type { Tool, ToolResult } from "../tool/define.ts";

/** Options of `withResultCache`. */
export interface ResultCacheOptions {
  /** How long a result stays valid. */
  readonly ttlMs: number;
  /** Results kept at most (least recently used dropped first). Default 256. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/** What a cache holds and did, for tests and dashboards. */
export interface ResultCacheStats {
  readonly size: number;
  readonly hits: number;
  readonly misses: number;
}

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` are one key. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}

const failed = (r: ToolResult): boolean =>
  r !== null && typeof r === "object" && "output" in r && (r as { isError?: boolean }).isError === true;

/**
 * The tool with a result cache (opt-in per tool). Keyed by the tool's name and its validated
 * input in canonical JSON; a hit within `ttlMs` answers without running the tool and reports
 * `{ cache: "hit", ageMs }` as `tool_call_progress`.
 * Failures (thrown or `isError`) are never cached. Throws TaifengError `invalid_tool` for a
 * tool that is not read-only: caching a write would skip its effect.
 */
export function withResultCache<I>(
  tool: Tool<I>,
  options: ResultCacheOptions,
): Tool<I> & { stats(): ResultCacheStats; clear(): void } {
  if (!tool.readOnly)
    throw new TaifengError(
      "invalid_tool",
      `tool "${tool.name}" is not read-only: its results cannot be cached`,
    );
  if (!(options.ttlMs > 0))
    throw new TaifengError("invalid_config", `result cache of "${tool.name}": ttlMs must be positive`);
  const max = options.maxEntries ?? 256;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { at: number; result: ToolResult }>();
  let hits = 0;
  let misses = 0;
  return {
    ...tool,
    async execute(input, ctx) {
      const key = `${tool.name}\u0000${canonicalJson(input)}`;
      const hit = entries.get(key);
      if (hit && now() - hit.at < options.ttlMs) {
        hits++;
        entries.delete(key); // most recently used goes last
        entries.set(key, hit);
        ctx.progress({ cache: "hit", ageMs: now() - hit.at });
        return hit.result;
      }
      if (hit) entries.delete(key);
      misses++;
      // Identical calls in flight each run: sharing one would tie a call to another's signal.
      const result = await tool.execute(input, ctx);
      if (!failed(result)) {
        entries.set(key, { at: now(), result });
        while (entries.size > max) entries.delete(entries.keys().next().value as string);
      }
      return result;
    },
    stats: () => ({ size: entries.size, hits, misses }),
    clear: () => entries.clear(),
  };
}
