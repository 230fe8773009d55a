import { describe, expect, it } from "vitest";
import type { ResponseItem } from "../protocol/index.ts";
import { textMessage } from "../protocol/index.ts";
import { cacheCosts, cacheProfile } from "./cache-model.ts";
import { CompactionPlanner, type PlannerSettings } from "./planner.ts";
import type { CompactionTrigger } from "./strategies/types.ts";
import { TokenEstimator } from "./tokens.ts";

// One token per character (plus 4 per item) keeps the arithmetic readable:
// the request is 6 tokens, each call 9, each output 1,004; a stub keeps 20.
const estimator = new TokenEstimator({ name: "chars", exact: false, count: (t) => t.length });
const call = (i: number): ResponseItem => ({
  type: "function_call",
  callId: `c${i}`,
  name: "t",
  arguments: "{}",
});
const out = (i: number, size = 1000): ResponseItem => ({
  type: "function_call_output",
  callId: `c${i}`,
  output: "x".repeat(size),
});

function planner(overrides: Partial<PlannerSettings> = {}, style: "anthropic" | "none" = "anthropic") {
  return new CompactionPlanner({
    costs: cacheCosts(cacheProfile(style, { minTokens: 1 })),
    trim: { keepRecent: 2, minTokens: 100, stubTokens: 20 },
    headroom: 500,
    compactAt: undefined,
    handoff: "planned",
    summaryTokens: 300,
    ...overrides,
  });
}

/** Runs steps of one call and one output, as the engine would; returns each step's decision. */
function session(
  p: CompactionPlanner,
  steps: number,
  options: { usable?: number; outputSize?: number; trigger?: (k: number) => CompactionTrigger } = {},
) {
  const items: ResponseItem[] = [textMessage("user", "go")];
  const decisions = [];
  let cached = 0;
  for (let k = 1; k <= steps; k++) {
    items.push(call(k), out(k, options.outputSize));
    p.observe(items, 0, estimator);
    const tokens = estimator.items(items);
    const trigger = options.trigger?.(k) ?? "mid_turn";
    const input = { tokens, head: 0, cached, calibration: 1, usable: options.usable ?? 1e6, trigger };
    decisions.push({ k, tokens, decision: p.decide(input) });
    p.called(tokens, 0, 1, trigger === "pre_sampling");
    cached = tokens;
  }
  return decisions;
}

describe("CompactionPlanner", () => {
  it("trims when the reads paid for the trimmable outputs reach the rewrite's cost, all of them at once", () => {
    const steps = session(planner(), 8);
    // Step k: outputs 1..k-2 are trimmable (R = (k-2) x 984 tokens); the rewrite resends the
    // cached tail after the first of them: (29k + 946) tokens x (1.25 - 0.1). The rent paid
    // before step k is 0.1 x 984 x (k-2)(k-3)/2: it passes the cost at step 8.
    expect(steps.slice(0, 7).map((s) => s.decision)).toEqual(Array(7).fill(undefined));
    expect(steps[7]?.decision).toEqual({
      action: "trim",
      reason: "break_even",
      tokens: 8110,
      tokensRemoved: 6 * 984,
      cachedTokensKept: 15,
      cost: Math.round((29 * 8 + 946) * 1.15),
      saving: Math.round(6 * 984 * 0.1 * 7),
      horizonCalls: 7,
    });
  });

  it("without a cache, trims every output as soon as it leaves the working set", () => {
    const steps = session(planner({}, "none"), 4);
    expect(steps.map((s) => s.decision?.action)).toEqual([undefined, undefined, "trim", "trim"]);
    expect(steps[2]?.decision).toMatchObject({ tokensRemoved: 984, cost: 0 });
  });

  it("at a request boundary, trims the last turn's outputs too once the reads until the next boundary pay for it", () => {
    // Turns of 4 steps (a request every 4th step). At the request of step 5, outputs 1..3 are
    // trimmable and 4..5 were the last turn's working set: the trim stubs all five (5 x 984
    // tokens). Output 5 is not cached yet, so the rewrite resends only the cached tail that
    // survives: the calls and the stubs of outputs 1..4 after the first cut (4,058 cached -
    // 3,936 removed, 107 tokens past the 15 kept) x (1.25 - 0.1). The next turn's 4 calls
    // would read the 4,920 tokens at 0.1: 1,968, more than 123.
    const steps = session(planner({ boundaryTrims: true }), 6, {
      trigger: (k) => (k % 4 === 1 ? "pre_sampling" : "mid_turn"),
    });
    expect(steps.slice(0, 4).map((s) => s.decision)).toEqual(Array(4).fill(undefined));
    expect(steps[4]?.decision).toEqual({
      action: "trim",
      reason: "boundary",
      tokens: 5071,
      tokensRemoved: 5 * 984,
      cachedTokensKept: 15,
      cost: Math.round(107 * 1.15),
      saving: Math.round(5 * 984 * 0.1 * 4),
      horizonCalls: 4,
      keepRecent: 0,
    });
  });

  it("makes no boundary trim before it has followed a call (a reopened thread may be asked about its last outputs)", () => {
    const steps = session(planner({ boundaryTrims: true }), 3, { trigger: () => "pre_sampling" });
    // The first request: nothing followed yet, the working set (2 outputs) is kept.
    expect(steps[0]?.decision).toBeUndefined();
    expect(steps[1]?.decision).toMatchObject({ reason: "boundary", keepRecent: 0 });
  });

  it("makes no boundary trim unless asked (ADR 2702: resumed threads stay byte-identical)", () => {
    const steps = session(planner(), 3, { trigger: () => "pre_sampling" });
    expect(steps.map((s) => s.decision?.reason)).not.toContain("boundary");
  });

  it("trims a cold cache at once: a rewrite costs nothing when nothing is cached", () => {
    const p = planner();
    const items: ResponseItem[] = [
      textMessage("user", "go"),
      call(1),
      out(1),
      call(2),
      out(2),
      call(3),
      out(3),
    ];
    p.observe(items, 0, estimator);
    const tokens = estimator.items(items);
    const input = { tokens, head: 0, cached: 0, calibration: 1, usable: 1e6, trigger: "mid_turn" as const };
    expect(p.decide(input)).toMatchObject({ action: "trim", reason: "cold_cache", tokensRemoved: 984 });
    expect(p.decide({ ...input, cached: tokens - 1013 })).toBeUndefined();
  });

  it("forces a deeper trim when the next step would not fit, keeping only the newest output whole", () => {
    // usable 5,000: after the first step the limit is 5,000 - 1,013 (the largest step).
    const steps = session(planner(), 4, { usable: 5000 });
    expect(steps.slice(0, 3).map((s) => s.decision)).toEqual([undefined, undefined, undefined]);
    expect(steps[3]?.decision).toMatchObject({
      action: "trim",
      reason: "forced",
      tokens: 4058,
      tokensRemoved: 3 * 984,
      keepRecent: 1,
    });
  });

  it("hands off when trimming cannot make room, and at the request before a turn that would force it", () => {
    const input = { head: 0, cached: 0, calibration: 1, usable: 3000, trigger: "mid_turn" as const };
    // Nothing to trim (the outputs are under the trim's minimum) and over the limit.
    const items: ResponseItem[] = [textMessage("user", "a".repeat(2600)), call(1), out(1, 90)];
    const p = planner();
    p.observe(items, 0, estimator);
    const tokens = estimator.items(items);
    expect(p.decide({ ...input, tokens })).toMatchObject({
      action: "handoff",
      reason: "forced",
      tokensRemoved: tokens - 300,
    });
    // Steps of 103 untrimmable tokens, a limit of 6,000 (6,500 less the largest step, at
    // least the 500-token prior) and turns of 20 steps: at the start of the third turn the
    // history (4,229 tokens) plus a turn's growth (2,060) would pass the limit less a step's
    // room, so the handoff comes at that request boundary rather than mid-turn.
    const turns = session(planner(), 45, {
      usable: 6500,
      outputSize: 90,
      trigger: (k) => (k % 20 === 1 ? "pre_sampling" : "mid_turn"),
    });
    const handoffs = turns.filter((s) => s.decision !== undefined);
    expect(handoffs.map((s) => [s.k, s.decision?.action, s.decision?.reason])).toEqual([
      [41, "handoff", "early"],
    ]);
  });

  it("brings a handoff forward for cost only when the window will force one anyway, unless asked", () => {
    const pre = (k: number): CompactionTrigger => (k % 5 === 1 ? "pre_sampling" : "mid_turn");
    // A 1M window the thread will not fill: the planned mode keeps the history.
    const kept = session(planner(), 60, { outputSize: 90, trigger: pre });
    expect(kept.some((s) => s.decision?.action === "handoff")).toBe(false);
    // The economic mode summarizes once carrying the history has cost twice the summary.
    const economic = session(planner({ handoff: "economic" }), 60, { outputSize: 90, trigger: pre });
    const first = economic.find((s) => s.decision?.action === "handoff");
    expect(first?.decision?.reason).toBe("economic");
    expect(first?.decision?.cost).toBeGreaterThan(0);
  });

  it("brings a summary forward for cost when the window will force one before the thread is expected to end", () => {
    // Untrimmable steps of 103 tokens in a 6,500-token window (a forced handoff about every 55
    // steps), requests every 5 steps: once the thread has made more calls than remain before
    // the window forces a summary, the planned mode summarizes as soon as the reads it saves
    // have paid for it, before the turn that would force it.
    const pre = (k: number): CompactionTrigger => (k % 5 === 1 ? "pre_sampling" : "mid_turn");
    const first = (handoff: PlannerSettings["handoff"]) =>
      session(planner({ handoff }), 150, { usable: 6500, outputSize: 90, trigger: pre }).find(
        (s) => s.decision?.action === "handoff",
      );
    expect(first("planned")?.decision?.reason).toBe("economic");
    // `forced` waits until the window forces it.
    expect(first("forced")?.decision?.reason).toBe("forced");
    expect(first("planned")?.k as number).toBeLessThan(first("forced")?.k as number);
  });

  it("places breakpoints where the next trim keeps the prefix, and reads through the old one after a rewrite", () => {
    const p = planner();
    const items: ResponseItem[] = [
      textMessage("user", "go"),
      call(1),
      out(1),
      call(2),
      out(2),
      call(3),
      out(3),
    ];
    p.observe(items, 0, estimator);
    p.called(estimator.items(items), 0, 1, true);
    items.push(call(4), out(4));
    p.observe(items, 0, estimator);
    // The next trim cuts at output 1 (index 2); the previous request ended at 7 items.
    expect(p.breakpoints()).toEqual([2, 7]);
    // A trim stubbed outputs 1 and 2: the next request reads through index 2; the next cut is output 3.
    const stub = (i: number): ResponseItem => ({
      type: "function_call_output",
      callId: `c${i}`,
      output: "[output trimmed]",
    });
    const rewritten = [items[0], items[1], stub(1), items[3], stub(2), ...items.slice(5)] as ResponseItem[];
    p.observe(rewritten, 1, estimator);
    expect(p.breakpoints()).toEqual([2, 6]);
    p.called(estimator.items(rewritten), 0, 1, false);
    rewritten.push(call(5), out(5));
    p.observe(rewritten, 1, estimator);
    expect(p.breakpoints()).toEqual([6, 9]);
  });
});
