// concurrency: many sessions in one process, each running 3 model steps with 1 s of simulated
// model latency per step (ideal wall time 3 s). Reports wall time vs ideal, the lag from a
// model chunk to its subscriber, and the heap an idle session costs.
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelClient, ModelEvent, ModelRequest, StreamOptions } from "../src/llm/types.ts";
import { EnginePool } from "../src/loop/pool.ts";
import { lookupTool as lookup, percentile, round, writeResult } from "./lib.ts";

const SESSIONS = Number(process.env.SESSIONS ?? 10_000);
const LATENCY_MS = 1000;
const STEPS = 3;

const usage = { inputTokens: 200, outputTokens: 20 };
const scriptWith = (delayMs: number) =>
  new SimClient({
    name: "latency",
    script: [
      {
        delayMs,
        text: ["Looking ", "it ", "up."],
        toolCalls: [{ name: "lookup", arguments: { q: "a" } }],
        usage,
      },
      { delayMs, text: ["One ", "more."], toolCalls: [{ name: "lookup", arguments: { q: "b" } }], usage },
      { delayMs, text: ["The ", "answer ", "is ", "42."], usage },
    ],
  });
const sim = scriptWith(LATENCY_MS);

/**
 * Records when each thread's current call has its text due: the moment the call started plus
 * the simulated latency. Measuring from the due time (not from when the client got around to
 * yielding) counts every queueing delay on the way to the subscriber. A session runs one call
 * at a time, so its text deltas belong to its latest call; the simulator's own stream is
 * returned unwrapped, keeping the harness off the per-chunk path.
 */
const dueBy = new Map<string, number>();
const timed: ModelClient = {
  id: sim.id,
  stream(request: ModelRequest, options?: StreamOptions): AsyncIterable<ModelEvent> {
    dueBy.set(request.threadId ?? "", performance.now() + LATENCY_MS);
    return sim.stream(request, options);
  },
  release: (threadId) => sim.release(threadId),
};

const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
};

// Warm-up: a long-running server is warm, so the code paths are compiled before measuring.
for (let round = 0; round < 5; round++) {
  const warm = await EnginePool.create({ model: scriptWith(1), tools: [lookup], maxEngines: 1_010 });
  await Promise.all(
    Array.from({ length: 1_000 }, async (_, i) => {
      const engine = await warm.getOrCreate({ sessionId: `w${i}` });
      for await (const _ev of engine.subscribe(engine.submit("What is the answer?"))) {
        // drain
      }
    }),
  );
  await warm.close({ drainMs: 0 });
}

const pool = await EnginePool.create({
  model: timed,
  tools: [lookup],
  maxEngines: SESSIONS + 10,
  idleTimeoutMs: 0,
});
const before = heap();
const engines = await Promise.all(
  Array.from({ length: SESSIONS }, (_, i) => pool.getOrCreate({ sessionId: `s${i}` })),
);
const lags: number[] = [];
let failed = 0;
const t0 = performance.now();
await Promise.all(
  engines.map(async (engine) => {
    const id = engine.submit("What is the answer?");
    for await (const ev of engine.subscribe(id)) {
      if (ev.msg.type === "assistant_text") {
        lags.push(performance.now() - (dueBy.get(engine.threadId) as number));
      } else if (ev.msg.type === "turn_failed" || ev.msg.type === "turn_aborted") failed++;
    }
  }),
);
const wall = performance.now() - t0;
dueBy.clear();
const after = heap();
await pool.close({ drainMs: 0 });

writeResult(
  "concurrency",
  {
    sessions: SESSIONS,
    wall_ms: round(wall, 0),
    wall_vs_ideal: round(wall / (STEPS * LATENCY_MS), 3),
    event_lag_p50_ms: round(percentile(lags, 50), 2),
    event_lag_p99_ms: round(percentile(lags, 99), 2),
    heap_kb_per_idle_session: round((after - before) / 1024 / SESSIONS, 1),
    failed_turns: failed,
  },
  {
    workload: `After a warm-up (5 x 1,000 sessions, 1 ms latency), ${SESSIONS} sessions in one EnginePool (in-memory store); each runs one turn of ${STEPS} model steps (SimClient with ${LATENCY_MS} ms before the first chunk of every step; steps 1-2 call a tool). Lag = subscriber receive time minus the time the chunk was due (call start + latency), so timer and event-loop queueing count. Heap per idle session = heap after all turns (engines idle, still live, history and last submission retained) minus heap before creating them, after GC.`,
    targets: { wall_vs_ideal: "<= 1.2", heap_kb_per_idle_session: "<= 50" },
  },
);
