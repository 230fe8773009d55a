// kernel-overhead: what the engine costs on top of the work itself.
// One run = 2 model steps (step 1 streams one tool call, step 2 streams 3 text deltas) + 1 tool
// call, every event consumed by a subscriber. The floor is a bare loop over the same scripted
// events calling the tool directly. Both measured in this process, one after the other.
import type { ModelEvent } from "../src/llm/types.ts";
import { kernelModel, kernelRun, lookupTool as lookup, percentile, round, writeResult } from "./lib.ts";

const RUNS = Number(process.env.RUNS ?? 10_000);
const WARMUP = Number(process.env.WARMUP ?? 1_000);

const model = kernelModel();

const step1: ModelEvent[] = [
  { type: "tool_call_start", callId: "c1", name: "lookup" },
  { type: "tool_call_delta", callId: "c1", delta: '{"q":' },
  { type: "tool_call_delta", callId: "c1", delta: '"answer"}' },
  { type: "tool_call_end", callId: "c1" },
  { type: "finish", reason: "tool_calls" },
];
const step2: ModelEvent[] = [
  { type: "text_delta", delta: "The " },
  { type: "text_delta", delta: "answer " },
  { type: "text_delta", delta: "is 42." },
  { type: "finish", reason: "stop" },
];
async function* replay(events: ModelEvent[]): AsyncGenerator<ModelEvent> {
  for (const ev of events) yield ev;
}

async function floorRun(): Promise<string> {
  let args = "";
  for await (const ev of replay(step1)) if (ev.type === "tool_call_delta") args += ev.delta;
  const parsed = lookup.parse(JSON.parse(args));
  const output = parsed.ok ? await lookup.execute(parsed.value, undefined as never) : "";
  let text = "";
  for await (const ev of replay(step2)) if (ev.type === "text_delta") text += ev.delta;
  return `${output}${text}`;
}

const taifengRun = (): Promise<number> => kernelRun(model);

async function measure(fn: () => Promise<unknown>, runs: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  return ((performance.now() - t0) * 1000) / runs;
}

// Interleaved rounds: other processes on a shared machine slow both sides of a round alike,
// so per-round ratios and medians stay meaningful where one long run would not.
const ROUNDS = 10;
const perRound = Math.ceil(RUNS / ROUNDS);
await measure(floorRun, WARMUP);
await measure(taifengRun, WARMUP);
const floors: number[] = [];
const taifengs: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  floors.push(await measure(floorRun, perRound));
  taifengs.push(await measure(taifengRun, perRound));
}
const ratios = taifengs.map((t, i) => t / (floors[i] as number));
const ratio = percentile(ratios, 50);
// The floor the issue measured on this machine class when it set the absolute target. The
// VM's speed swings by 2x between phases; the ratio does not, so ratio x reference floor is
// the run's time on the machine as fast as when the target was set.
const REFERENCE_FLOOR_US = 2.8;
const events = await taifengRun();
writeResult(
  "kernel-overhead",
  {
    floor_us_per_run: round(percentile(floors, 50), 2),
    taifeng_memory_us_per_run: round(percentile(taifengs, 50), 2),
    taifeng_vs_floor: round(ratio, 2),
    taifeng_us_at_reference_floor: round(ratio * REFERENCE_FLOOR_US, 2),
    taifeng_memory_us_per_run_best_round: round(Math.min(...taifengs), 2),
    events_per_run: events,
  },
  {
    workload: `${ROUNDS} interleaved rounds of ${perRound} floor runs and ${perRound} Taifeng runs (${RUNS} each in all) after ${WARMUP} warm-up runs of each; figures are medians over rounds. A Taifeng run opens an engine (in-memory store), submits one user_input, consumes every event of the submission through subscribe(), and closes the engine: 2 model steps (SimClient, no delays) + 1 tool call. The floor replays the same model events from an async generator, parses and validates the tool input and calls the tool directly.`,
    rounds: { floor_us: floors.map((v) => round(v, 2)), taifeng_us: taifengs.map((v) => round(v, 2)) },
    targets: { taifeng_memory_us_per_run: "<= 25", taifeng_vs_floor: "<= 10" },
    reference_floor_us: REFERENCE_FLOOR_US,
    reference_floor_note:
      "taifeng_us_at_reference_floor = taifeng_vs_floor x the bare floor the issue measured on this machine class (2.8 us), i.e. the run's time at the speed the absolute target was set at; taifeng_memory_us_per_run is the raw median of this run",
    for_scale:
      "measured on this machine class with the same workload (issue text): bare floor ~2.8 us, OpenAI Agents SDK ~380 us, Vercel AI SDK ToolLoopAgent ~1070 us, LangGraph.js createAgent ~2850 us, Mastra ~3800 us",
  },
);
