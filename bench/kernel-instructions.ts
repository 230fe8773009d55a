// Runs the kernel-overhead workload N times (env N, default 1000) and nothing else: a target
// for counting instructions, which unlike wall time does not swing with the VM's speed.
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --single-threaded \
//     bench/kernel-instructions.ts   (with N=1000 and N=3000; per run = difference / 2000)
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { lookupTool } from "./lib.ts";

const N = Number(process.env.N ?? 1000);
const usage = { inputTokens: 50, outputTokens: 10 };
const model = new SimClient({
  name: "bench",
  script: [
    { toolCalls: [{ name: "lookup", arguments: { q: "answer" } }], usage },
    { text: ["The ", "answer ", "is 42."], usage },
  ],
});
for (let i = 0; i < N; i++) {
  const engine = await AgentEngine.open({ model, tools: [lookupTool] });
  for await (const _ev of engine.subscribe(engine.submit("What is the answer?"))) {
    // drain
  }
  await engine.close();
}
