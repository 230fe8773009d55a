// A persistent root (keepAlive with a JSONL store) that records three wakes: one fired before
// the crash, one due a few seconds later, one due in an hour; it reports once the first has
// run and the others are recorded, then waits to be killed (test/agents/timer-crash.test.ts).
import { keepAlive } from "../../src/agents/index.ts";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";

const dir = process.argv[2] as string;
// Keeps the process alive: the wake timers are unref'd.
setInterval(() => {}, 60_000);
const store = new JsonlThreadStore({ dir });
const engine = await AgentEngine.open({
  model: new SimClient({ script: Array.from({ length: 20 }, () => ({ text: "ok" })) }),
  store,
  threadId: "thr_timer_crash",
});
const root = keepAlive(engine, { store });
await root.ready;
const firstDone = new Promise<void>((r) => engine.on((e) => e.msg.type === "turn_completed" && r()));
root.wakeAfter(0, "fired before the crash");
await firstDone;
root.wakeAfter(4_000, "due after the restart");
root.wakeAfter(3_600_000, "due in an hour");
const cancel = root.wakeAfter(2_000, "cancelled");
cancel();
// Recorded when the transcript shows all four records (the cancel as a second line).
const { readFileSync } = await import("node:fs");
const poll = setInterval(() => {
  const text = readFileSync(store.pathOf("thr_timer_crash"), "utf8");
  if (text.split('"wake_scheduled"').length - 1 === 5) {
    clearInterval(poll);
    process.stdout.write(`${JSON.stringify({ ready: true, wakes: root.wakes })}\n`);
  }
}, 10);
