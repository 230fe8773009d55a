// agents: what the agent tree costs.
// - spawn_join_overhead_ms_per_child: a root spawns 100 inline children in one step and joins
//   them (each child: one model call), against the same model work on the parent's own engine
//   (the root's two steps plus 100 one-step turns); (tree - same work) / 100, medians of
//   interleaved rounds.
// - children_1000_wall_vs_ideal: 1,000 children spawned in one step, each waiting 1 s on the
//   model, joined by the root: wall time / 1 s.
// - heap_kb_per_suspended_parent: N children each parked on wait (spawn_agent with wait) for a
//   grandchild whose model call hangs, against N engines with only the hanging call; heap after
//   GC, per parent.
import { loadavg } from "node:os";
import { AgentTree } from "../src/agents/index.ts";
import type { SimStepInput } from "../src/llm/sim/script.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { round, writeResult } from "./lib.ts";

const CHILDREN = Number(process.env.CHILDREN ?? 100);
const WIDE = Number(process.env.WIDE ?? 1_000);
const PARKED = Number(process.env.PARKED ?? 500);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const loadAtStart = loadavg()[0] ?? 0;
const gc = (globalThis as { gc?: () => void }).gc;
const usage = { inputTokens: 50, outputTokens: 10 };

const who = (r: ModelRequest) => /^You are the agent (\S+), started by/.exec(r.system)?.[1] ?? "root";
function treeSim(
  root: (index: number) => SimStepInput,
  child: (path: string, index: number) => SimStepInput,
): SimClient {
  return new SimClient({
    name: "bench",
    script: Array.from({ length: 4 }, () => (r: ModelRequest, { index }: { index: number }) => {
      const path = who(r);
      return path === "root" ? root(index) : child(path, index);
    }),
  });
}

const spawns = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    name: "spawn_agent",
    arguments: { instructions: "Answer.", task: `t${i}` },
  }));

/** Process CPU time in ms (user + system): immune to the other processes of a shared VM. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
let lastCpu = 0;

async function treeRun(n: number, childDelayMs = 0): Promise<number> {
  const model = treeSim(
    (i) =>
      i === 0
        ? { toolCalls: [...spawns(n), { name: "wait_agents", arguments: {} }], usage }
        : { text: "joined", usage },
    () => ({ text: "done", usage, ...(childDelayMs ? { delayMs: childDelayMs } : {}) }),
  );
  const tree = await AgentTree.open({
    model,
    limits: { maxChildren: n, maxLive: n },
    engine: { context: false, maxParallelTools: 64 },
  });
  const t0 = performance.now();
  const c0 = cpuMs();
  const events = await tree.root.submitAndWait("go");
  lastCpu = cpuMs() - c0;
  const ms = performance.now() - t0;
  if (events.at(-1)?.msg.type !== "turn_completed")
    throw new Error(`tree run failed: ${JSON.stringify(events.at(-1)?.msg)}`);
  await tree.close();
  return ms;
}

async function sameWorkOneEngine(n: number): Promise<number> {
  // The parent's own engine does the root's two steps and then the children's n model calls.
  const model = new SimClient({
    name: "bench",
    script: Array.from({ length: n + 2 }, (_, i) =>
      i === 0
        ? { toolCalls: [{ name: "noop", arguments: {} }], usage }
        : { text: i === 1 ? "joined" : "done", usage },
    ),
  });
  const { defineTool } = await import("../src/tool/define.ts");
  const { z } = await import("zod");
  const noop = defineTool({
    name: "noop",
    description: "No-op.",
    schema: z.object({}),
    readOnly: true,
    execute: () => "ok",
  });
  const engine = await AgentEngine.open({ model, tools: [noop], context: false });
  const t0 = performance.now();
  const c0 = cpuMs();
  await engine.submitAndWait("go");
  for (let i = 0; i < n; i++) await engine.submitAndWait(`t${i}`);
  lastCpu = cpuMs() - c0;
  const ms = performance.now() - t0;
  await engine.close();
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

// 1. spawn + join overhead per child
await treeRun(CHILDREN);
await sameWorkOneEngine(CHILDREN);
const treeMs: number[] = [];
const baseMs: number[] = [];
const treeCpu: number[] = [];
const baseCpu: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  treeMs.push(await treeRun(CHILDREN));
  treeCpu.push(lastCpu);
  baseMs.push(await sameWorkOneEngine(CHILDREN));
  baseCpu.push(lastCpu);
}
const overheadPerChild = (median(treeCpu) - median(baseCpu)) / CHILDREN;
const overheadPerChildWall = (median(treeMs) - median(baseMs)) / CHILDREN;

// 2. 1,000 concurrent children, each 1 s on the model
const wide = await treeRun(WIDE, 1_000);
const wideCpu = lastCpu;

// 3. heap per suspended parent
async function heapParked(n: number): Promise<{ parked: number; hangingOnly: number }> {
  const measure = async (build: () => Promise<() => Promise<void>>) => {
    for (let i = 0; i < 4; i++) {
      gc?.();
      await new Promise((r) => setTimeout(r, 20));
    }
    const before = process.memoryUsage().heapUsed;
    const close = await build();
    await new Promise((r) => setTimeout(r, 200));
    gc?.();
    gc?.();
    const after = process.memoryUsage().heapUsed;
    await close();
    return (after - before) / 1024 / n;
  };
  const hangingOnly = await measure(async () => {
    const model = new SimClient({ name: "bench", script: [{ text: "never", delayMs: 600_000, usage }] });
    const engines = await Promise.all(
      Array.from({ length: n }, () => AgentEngine.open({ model, context: false })),
    );
    for (const e of engines) e.submit("hang");
    await new Promise((r) => setTimeout(r, 50));
    return async () => {
      await Promise.all(engines.map((e) => e.close()));
    };
  });
  const parked = await measure(async () => {
    const model = treeSim(
      () => ({ toolCalls: spawns(n), usage }),
      (path, i) =>
        path.split("/").length === 2
          ? i === 0
            ? {
                toolCalls: [
                  { name: "spawn_agent", arguments: { instructions: "Wait.", task: "hang", wait: true } },
                ],
                usage,
              }
            : { text: "x", usage }
          : { text: "never", delayMs: 600_000, usage },
    );
    const tree = await AgentTree.open({
      model,
      limits: { maxChildren: n, maxLive: 2 * n },
      engine: { context: false, maxParallelTools: 64 },
    });
    let parkedCount = 0;
    const all = new Promise<void>((r) =>
      tree.on((e) => {
        if (
          e.event.msg.type === "user_input_requested" &&
          e.agent.split("/").length === 2 &&
          ++parkedCount === n
        )
          r();
      }),
    );
    tree.root.submit("go");
    await all;
    return () => tree.close();
  });
  return { parked, hangingOnly };
}
const heap = await heapParked(PARKED);

writeResult(
  "agents",
  {
    spawn_join_overhead_ms_per_child: round(overheadPerChild, 3),
    spawn_join_overhead_wall_ms_per_child: round(overheadPerChildWall, 3),
    tree_100_children_cpu_ms_median: round(median(treeCpu), 1),
    same_work_one_engine_cpu_ms_median: round(median(baseCpu), 1),
    tree_100_children_ms_median: round(median(treeMs), 1),
    same_work_one_engine_ms_median: round(median(baseMs), 1),
    children_1000_wall_ms: round(wide, 0),
    children_1000_wall_vs_ideal: round(wide / 1_000, 3),
    children_1000_cpu_ms: round(wideCpu, 0),
    heap_kb_per_suspended_parent: round(heap.parked - heap.hangingOnly, 1),
    heap_kb_per_parked_parent_with_hanging_child: round(heap.parked, 1),
    heap_kb_per_hanging_engine: round(heap.hangingOnly, 1),
    loadavg_1m_at_start: round(loadAtStart, 2),
    gc_exposed: gc !== undefined,
  },
  {
    workload: `spawn/join (process CPU time; wall time beside it): ${CHILDREN} inline children of a one-step script in one model step + wait_agents, vs the root's two steps and ${CHILDREN} one-step turns on one engine (memory store, context management off), ${ROUNDS} interleaved rounds, medians; wide: ${WIDE} children each 1 s on the model; heap: ${PARKED} children parked on spawn_agent wait over a hanging grandchild, minus ${PARKED} engines with only the hanging call`,
    targets: {
      spawn_join_overhead_ms_per_child: "<= 1",
      children_1000_wall_vs_ideal: "<= 1.2",
      heap_kb_per_suspended_parent: "-",
    },
    samples: { treeMs: treeMs.map((x) => round(x, 1)), baseMs: baseMs.map((x) => round(x, 1)) },
  },
);
