// Figures of the long-session benchmark (bench/long-session.bench.ts): what one run counted,
// what it cost, the floors no strategy goes below, and the verdict per cell. See
// docs/guides/context.md ("The long-session benchmark") and ADR 2701.
import { loadavg } from "node:os";
import type { ModelPrices } from "../src/llm/catalog.ts";
import type { Usage } from "../src/protocol/index.ts";
import { round } from "./lib.ts";

export type Style = "anthropic" | "openai" | "none";

/** What one session counted. */
export interface RunStats {
  calls: number;
  summaryCalls: number;
  input: number;
  cached: number;
  written: number;
  summaryOutput: number;
  /** Input tokens of summary calls (also counted in `input`). */
  summaryInput: number;
  peak: number;
  compactions: number;
  /** Tokens that entered the context (user messages, answers, tool outputs as the model saw them). */
  entered: number;
  /** Cached prompt tokens the rewrites invalidated (sum of compaction_completed events). */
  invalidated: number;
  notesRecalled: number;
  /** Plain facts (no NOTE: mark) in the context when asked: planted halfway through a tool output, or told in an answer. */
  middleInContext: number;
  assistantInContext: number;
  /** Plain facts halfway through a tool output that reached the model at all (the output cap may cut the middle). */
  middleSeen: number;
}

/** Counts one model call's usage (`summary`: a compaction request). */
export function record(stats: RunStats, usage: Usage, summary: boolean): void {
  stats.calls++;
  if (process.env.LONG_SESSION_CALLS)
    console.error("call", stats.calls, summary ? "summary" : "", JSON.stringify(usage));
  if (summary) {
    stats.summaryCalls++;
    stats.summaryOutput += usage.outputTokens;
    stats.summaryInput += usage.inputTokens;
  }
  stats.input += usage.inputTokens;
  stats.cached += usage.cachedInputTokens;
  stats.written += usage.cacheWriteTokens;
  stats.peak = Math.max(stats.peak, usage.inputTokens);
}

/** Billed input (plus summary answers, which only compaction produces) in USD. */
export function cost(s: RunStats, prices: ModelPrices): number {
  const plain = s.input - s.cached - s.written;
  return (
    (plain * prices.input +
      s.written * (prices.cacheWrite ?? prices.input) +
      s.cached * (prices.cachedInput ?? prices.input) +
      s.summaryOutput * prices.output) /
    1e6
  );
}

/** Where the money went, in shares of the cost: cache reads, cache writes, uncached input, summary answers. */
export function breakdown(s: RunStats, prices: ModelPrices): Record<string, number> {
  const total = cost(s, prices) * 1e6;
  const plain = s.input - s.cached - s.written;
  return {
    reads: round((s.cached * (prices.cachedInput ?? prices.input)) / total, 3),
    writes: round((s.written * (prices.cacheWrite ?? prices.input)) / total, 3),
    uncached: round((plain * prices.input) / total, 3),
    summary_output: round((s.summaryOutput * prices.output) / total, 3),
  };
}

/** What sending every token that entered the context exactly once would cost: no strategy pays less. */
export function floor(s: RunStats, style: Style, prices: ModelPrices): number {
  const first = style === "anthropic" ? (prices.cacheWrite ?? prices.input) : prices.input;
  return (s.entered * first) / 1e6;
}

/**
 * The least any strategy can pay that shows the model the same tokens (each sent uncached at
 * least once, at the input price) and keeps a cached input share of at least `share`: with U
 * uncached tokens of T, cost >= read x T + (input - read) x U, and share >= S means T >= U / (1 - S),
 * so cost >= U x (read / (1 - S) + input - read) >= entered x (the same). Above 0.6x naive, the
 * cell's two targets cannot both be met.
 */
export function jointFloor(s: RunStats, prices: ModelPrices, share: number): number {
  const read = prices.cachedInput ?? prices.input;
  return (s.entered * (read / (1 - share) + prices.input - read)) / 1e6;
}

type Cell = Record<string, unknown>;
const num = (c: Cell, k: string) => c[k] as number;
const shareTarget = (c: Cell) => Math.max(0.85, num(c, "naive_cached_input_share"));
const meets = (c: Cell) => num(c, "cost_vs_naive") <= 0.6 && num(c, "cached_input_share") >= shareTarget(c);

/**
 * Why a cached cell misses: no strategy can meet both targets (the joint floor is over 0.6x
 * naive), or meeting the share target costs more than Taifeng pays (its cost is under the
 * joint floor); else `missed`.
 */
export function verdict(c: Cell): "met" | "impossible" | "share_costs_more" | "missed" {
  if (meets(c)) return "met";
  if (num(c, "joint_floor_vs_naive") > 0.6) return "impossible";
  if (num(c, "cost_vs_naive") < num(c, "joint_floor_vs_naive") && num(c, "cost_vs_naive") <= 0.6)
    return "share_costs_more";
  return "missed";
}

/** The run's headline figures (sets each cached cell's `verdict`); `loadAtStart` from os.loadavg(). */
export function summaryFigures(
  cells: Cell[],
  loadAtStart: readonly number[],
): Record<string, number | string> {
  const cachedCells = cells.filter((c) => c.style !== "none");
  for (const c of cachedCells) c.verdict = verdict(c);
  const count = (v: string) => cachedCells.filter((c) => c.verdict === v).length;
  const worst = cachedCells.reduce((a, b) => (num(b, "cost_vs_naive") > num(a, "cost_vs_naive") ? b : a));
  const headline =
    cells.find((c) => c.window === "128k" && c.style === "anthropic" && c.shape === "wide") ?? {};
  const load = loadavg();
  return {
    cells: cells.length,
    cached_cells: cachedCells.length,
    cached_cells_meeting_targets: count("met"),
    cached_cells_impossible: count("impossible"),
    cached_cells_share_costs_more: count("share_costs_more"),
    cached_cells_missed: count("missed"),
    cached_cells_cost_at_most_0_6: cachedCells.filter((c) => num(c, "cost_vs_naive") <= 0.6).length,
    cached_cells_share_met: cachedCells.filter((c) => num(c, "cached_input_share") >= shareTarget(c)).length,
    worst_cell: `${worst.window} ${worst.style} ${worst.shape}`,
    worst_cost_vs_naive: num(worst, "cost_vs_naive"),
    worst_floor_vs_naive: num(worst, "floor_vs_naive"),
    worst_joint_floor_vs_naive: num(worst, "joint_floor_vs_naive"),
    worst_cell_why: `sending each token the model saw once costs ${num(worst, "floor_vs_naive")}x naive, and at the share target (${round(shareTarget(worst), 3)}) no strategy pays less than ${num(worst, "joint_floor_vs_naive")}x; naive summarized ${num(worst, "naive_compactions")} times, so its own context stayed small`,
    headline_cached_input_share: headline.cached_input_share as number,
    headline_cost_vs_naive: headline.cost_vs_naive as number,
    load_average_at_start: round(loadAtStart[0] ?? 0, 1),
    load_average_at_end: round(load[0] ?? 0, 1),
  };
}
