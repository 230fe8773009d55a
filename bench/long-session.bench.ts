// long-session: a deterministic 200-step coding-agent session on a 128k-token window, run
// three ways (Taifeng's default context strategy, a naive summarize-when-full baseline, and
// the default strategy without prompt caching). Scenario: docs/guides/context.md.
import { z } from "zod";
import type { CompactionStrategy } from "../src/context/strategies/types.ts";
import type { SimStepInput } from "../src/llm/sim/script.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelClient, ModelEvent, ModelRequest } from "../src/llm/types.ts";
import { AgentEngine, type EngineOptions } from "../src/loop/engine.ts";
import { type Event, messageText, toolOutputText, type Usage } from "../src/protocol/index.ts";
import { defineTool } from "../src/tool/define.ts";
import { round, writeResult } from "./lib.ts";

const WINDOW = 128_000;
const TURNS = 40;
const TOOL_STEPS = 4; // + 1 answer step = 5 model calls per turn, 200 in all
/** $ per million tokens, Anthropic Sonnet-class list prices: input, cache write (1.25x), cache read (0.1x). */
const PRICE = { input: 3, cacheWrite: 3.75, cacheRead: 0.3 };

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FACTS = [
  ["the staging database port", "6543"],
  ["the feature flag for the new parser", "parser_v2_rollout"],
  ["the on-call engineer for payments", "Ilse Marchetti"],
  ["the maximum retry budget per request", "7 retries"],
  ["the build cache directory", "/var/cache/taifeng-build-42"],
  ["the deprecated API version", "v2023-11-07"],
  ["the release branch name", "release/aurora-3.4"],
  ["the license header year", "2019-2026"],
] as const;
const KINDS = ["read_file", "grep", "bash"] as const;

interface ToolPlan {
  readonly kind: (typeof KINDS)[number];
  readonly path: string;
  readonly tokens: number;
  readonly fact?: number;
}
interface TurnPlan {
  readonly prompt: string;
  readonly tools: ToolPlan[];
  readonly asks?: number;
}

/** The scripted session: the same for every run. */
function planSession(): TurnPlan[] {
  const rand = mulberry32(42);
  const turns: TurnPlan[] = [];
  for (let t = 0; t < TURNS; t++) {
    const tools: ToolPlan[] = [];
    for (let s = 0; s < TOOL_STEPS; s++) {
      // log-uniform between 500 and 20,000 tokens
      const tokens = Math.round(500 * 40 ** rand());
      const kind = KINDS[Math.floor(rand() * KINDS.length)] as ToolPlan["kind"];
      const fact = t >= 1 && t <= 4 && s === 0 ? t + 3 : undefined;
      tools.push({ kind, path: `src/module_${t}_${s}.ts`, tokens, ...(fact !== undefined ? { fact } : {}) });
    }
    const asks = t >= TURNS - FACTS.length ? t - (TURNS - FACTS.length) : undefined;
    let prompt = `Task ${t + 1}: continue the refactoring of module ${t} and keep the tests green.`;
    if (t < 4) prompt += `\nNOTE: ${FACTS[t]?.[0]} is ${FACTS[t]?.[1]}.`;
    if (asks !== undefined)
      prompt = `Task ${t + 1}: remind me, what is ${FACTS[asks]?.[0]}? Then continue with module ${t}.`;
    turns.push({ prompt, tools, ...(asks !== undefined ? { asks } : {}) });
  }
  return turns;
}

const WORDS =
  "const let return await export function import from interface type async value result error config index".split(
    " ",
  );
function toolText(plan: ToolPlan, seed: number): string {
  const rand = mulberry32(seed);
  const lines: string[] = [
    plan.fact !== undefined
      ? `NOTE: ${FACTS[plan.fact]?.[0]} is ${FACTS[plan.fact]?.[1]}.`
      : `// ${plan.kind} ${plan.path}`,
  ];
  let chars = lines[0]?.length ?? 0;
  const target = plan.tokens * 4;
  while (chars < target) {
    let line = "  ";
    for (let w = 0; w < 8; w++)
      line += `${WORDS[Math.floor(rand() * WORDS.length)]}_${Math.floor(rand() * 100)} `;
    lines.push(line);
    chars += line.length + 1;
  }
  return lines.join("\n").slice(0, target);
}

interface RunStats {
  calls: number;
  input: number;
  cached: number;
  written: number;
  peak: number;
  compactions: number;
  recalled: number;
  asked: number;
  summaryCalls: number;
}

function lastUserText(request: ModelRequest): string {
  for (let i = request.items.length - 1; i >= 0; i--) {
    const item = request.items[i];
    if (item?.type === "message" && item.role === "user") return messageText(item);
  }
  return "";
}

function contextText(request: ModelRequest): string {
  return request.items
    .map((i) =>
      i.type === "message"
        ? messageText(i)
        : i.type === "function_call_output"
          ? toolOutputText(i.output)
          : i.type === "compaction"
            ? i.summary
            : "",
    )
    .join("\n");
}

async function runSession(
  name: string,
  options: { cache: boolean; context: EngineOptions["context"]; maxToolOutputChars?: number | false },
): Promise<RunStats> {
  const plan = planSession();
  const stats: RunStats = {
    calls: 0,
    input: 0,
    cached: 0,
    written: 0,
    peak: 0,
    compactions: 0,
    recalled: 0,
    asked: 0,
    summaryCalls: 0,
  };
  let turn = 0;
  let stepInTurn = 0;
  const step = (request: ModelRequest): SimStepInput => {
    const current = plan[turn] as TurnPlan;
    if (stepInTurn < TOOL_STEPS) {
      const tool = current.tools[stepInTurn] as ToolPlan;
      stepInTurn++;
      return {
        text: `Running ${tool.kind} on ${tool.path}.`,
        toolCalls: [{ name: "run_tool", arguments: { ...tool, seed: turn * 10 + stepInTurn } }],
      };
    }
    let text = `Module ${turn} updated; tests pass.`;
    if (current.asks !== undefined) {
      const [what, value] = FACTS[current.asks] as readonly [string, string];
      stats.asked++;
      const present = contextText(request).includes(value) && lastUserText(request).includes(what);
      if (present) stats.recalled++;
      text = present ? `${what} is ${value}. ${text}` : `I no longer know ${what}. ${text}`;
    }
    return { text };
  };
  const sim = new SimClient({
    name,
    script: { steps: [step], onExhausted: "repeat_last" },
    contextWindow: WINDOW,
    ...(options.cache ? { cache: { style: "anthropic" as const } } : {}),
  });
  const counted: ModelClient = {
    id: sim.id,
    async *stream(request, opts) {
      for await (const ev of sim.stream(request, opts) as AsyncIterable<ModelEvent>) {
        if (ev.type === "usage") record(stats, ev.usage, request.purpose === "compaction");
        yield ev;
      }
    },
  };
  const tool = defineTool({
    name: "run_tool",
    description: "Runs a coding tool (read_file, grep or bash) and returns its output.",
    schema: z.object({
      kind: z.string(),
      path: z.string(),
      tokens: z.number(),
      fact: z.number().optional(),
      seed: z.number(),
    }),
    readOnly: true,
    execute: (input) => toolText(input as ToolPlan, input.seed),
  });
  const engine = await AgentEngine.open({
    model: counted,
    tools: [tool],
    system: "You are a coding agent working in a large TypeScript repository.",
    context: options.context,
    ...(options.maxToolOutputChars !== undefined ? { maxToolOutputChars: options.maxToolOutputChars } : {}),
    maxSteps: 20,
    listeners: [
      (ev: Event) => {
        if (ev.msg.type === "compaction_completed" && ev.msg.tokensAfter < ev.msg.tokensBefore)
          stats.compactions++;
      },
    ],
  });
  for (turn = 0; turn < plan.length; turn++) {
    stepInTurn = 0;
    const events = await engine.submitAndWait((plan[turn] as TurnPlan).prompt);
    const end = events.at(-1)?.msg;
    if (end?.type !== "turn_completed")
      throw new Error(`${name}: turn ${turn} ended with ${JSON.stringify(end)}`);
  }
  await engine.close();
  return stats;
}

function record(stats: RunStats, usage: Usage, summary: boolean): void {
  stats.calls++;
  if (summary) stats.summaryCalls++;
  stats.input += usage.inputTokens;
  stats.cached += usage.cachedInputTokens;
  stats.written += usage.cacheWriteTokens;
  stats.peak = Math.max(stats.peak, usage.inputTokens);
}

function cost(s: RunStats): number {
  const plain = s.input - s.cached - s.written;
  return (plain * PRICE.input + s.written * PRICE.cacheWrite + s.cached * PRICE.cacheRead) / 1e6;
}

/** The naive baseline: nothing until the window is full, then summarize everything. */
function summarizeAll(): CompactionStrategy {
  return {
    name: "summarize_all",
    async compact(ctx) {
      const { text, usage } = await ctx.summarize(
        ctx.items,
        "Summarize the conversation so far. Keep every line marked NOTE: verbatim.",
      );
      const items = [{ type: "compaction" as const, summary: text, replacedItems: ctx.items.length }];
      return usage ? { items, summary: text, usage } : { items, summary: text };
    },
  };
}

const defaults = await runSession("default", { cache: true, context: { contextWindow: WINDOW } });
const naiveContext = {
  contextWindow: WINDOW,
  trimAt: 2,
  compactAt: 1,
  strategies: [summarizeAll()],
  overflowStrategies: [summarizeAll()],
};
const naive = await runSession("naive", { cache: true, context: naiveContext, maxToolOutputChars: false });
const naiveCapped = await runSession("naive-capped", { cache: true, context: naiveContext });
const uncached = await runSession("no-cache", { cache: false, context: { contextWindow: WINDOW } });

const describe = (s: RunStats) => ({
  model_calls: s.calls,
  summary_calls: s.summaryCalls,
  input_tokens: s.input,
  cached_input_tokens: s.cached,
  cache_write_tokens: s.written,
  cached_input_share: round(s.cached / s.input, 3),
  billed_input_cost_usd: round(cost(s), 4),
  peak_context_tokens: s.peak,
  compactions: s.compactions,
  facts_recalled: s.recalled,
});

writeResult(
  "long-session",
  {
    cached_input_share: round(defaults.cached / defaults.input, 3),
    cost_vs_naive: round(cost(defaults) / cost(naive), 3),
    cost_vs_naive_same_output_cap: round(cost(defaults) / cost(naiveCapped), 3),
    cost_vs_no_cache: round(cost(defaults) / cost(uncached), 3),
    peak_context_tokens: defaults.peak,
    compactions: defaults.compactions,
    facts_planted: FACTS.length,
    facts_recalled: defaults.recalled,
  },
  {
    workload: `${TURNS} user turns x ${TOOL_STEPS + 1} model calls (${TURNS * (TOOL_STEPS + 1)} in all) on a ${WINDOW}-token window; tool outputs log-uniform in 500..20,000 tokens (seed 42); 8 facts planted in turns 1-5 (4 in user messages, 4 on the first line of tool outputs), asked in the last 8 turns. SimClient with an Anthropic-style prefix cache; prices per million tokens: input $${PRICE.input}, cache write $${PRICE.cacheWrite}, cache read $${PRICE.cacheRead}. Summaries come from the simulator's deterministic summarizer (keeps user requests and NOTE lines).`,
    runs: {
      default: describe(defaults),
      naive: describe(naive),
      naive_same_output_cap: describe(naiveCapped),
      no_cache: describe(uncached),
    },
    targets: { cached_input_share: ">= 0.90", cost_vs_naive: "<= 0.5", facts_recalled: "= facts_planted" },
  },
);
