// One of many processes that use a new store directory at the same moment
// (test/persistence/first-use.test.ts): it loads everything, waits for "go" on stdin, then
// opens the store, runs a turn on its own thread, binds a session and lists the threads.
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";

const [dir, name] = process.argv.slice(2) as [string, string];
process.stdout.write("ready\n");
await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
const started = Date.now();
const warnings: string[] = [];
const store = new JsonlThreadStore({ dir, onWarning: (m) => warnings.push(m) });
const engine = await AgentEngine.open({
  model: new SimClient({ script: [{ text: "ok" }] }),
  store,
  threadId: `thr_${name}`,
});
await engine.submitAndWait("hello");
await store.sessions?.bind(`session-${name}`, engine.threadId);
const listed = (await store.list()).length;
await engine.close();
await store.close();
process.stdout.write(`${JSON.stringify({ name, listed, warnings, ms: Date.now() - started })}\n`);
