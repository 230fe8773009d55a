// Phase one of the pool restart test (test/persistence/pool-sessions.test.ts): a pool of a few
// engines serves many sessions (one turn each, so most engines are evicted), reports every
// session's thread and the most engines it saw live, then waits to be killed with SIGKILL.
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { EnginePool } from "../../src/loop/pool.ts";

const [dir, count, maxEngines] = [
  process.argv[2] as string,
  Number(process.argv[3]),
  Number(process.argv[4]),
];
const pool = await EnginePool.create({
  model: new SimClient({ script: { steps: [{ text: "noted" }], onExhausted: "repeat_last" } }),
  storageDir: dir,
  durability: "none",
  maxEngines,
  idleTimeoutMs: 0,
  context: false,
});
const threads: Record<string, string> = {};
let most = 0;
const work = Array.from({ length: count }, (_, i) => async () => {
  const sessionId = `user-${i}`;
  const engine = await pool.getOrCreate({ sessionId });
  most = Math.max(most, pool.size);
  threads[sessionId] = engine.threadId;
  await engine.submitAndWait(`remember ${i}`);
});
// Several sessions at a time, more than the pool holds: opens queue and evict.
let next = 0;
await Promise.all(
  Array.from({ length: maxEngines * 2 }, async () => {
    while (next < work.length) await (work[next++] as () => Promise<void>)();
  }),
);
process.stdout.write(`${JSON.stringify({ threads, most })}\n`);
setInterval(() => {}, 60_000); // killed here, without closing anything
