// Quickstart: the library face of Taifeng, with the simulator as the model (no API key).
// Run: node examples/quickstart.ts
import { z } from "zod";
import { defineTool, EnginePool, run, SimClient } from "../src/index.ts";

// 1. A tool: zod schema in, model-readable output out. Invalid input never reaches execute().
const weather = defineTool({
  name: "get_weather",
  description: "Current weather for a city.",
  schema: z.object({ city: z.string().describe("City name, e.g. Paris") }),
  readOnly: true,
  execute: async ({ city }, ctx) => {
    ctx.progress({ status: `looking up ${city}` });
    return { city, tempC: city === "Paris" ? 18 : 24, sky: "clear" };
  },
});

// 2. A model. SimClient plays a script: here the model calls the tool, then answers from its output.
const model = new SimClient({
  name: "quickstart",
  script: {
    steps: [
      { text: "Let me check.", toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] },
      (request) => {
        const last = request.items.at(-1);
        const data = last?.type === "function_call_output" ? JSON.parse(String(last.output)) : {};
        return { text: `It is ${data.tempC} °C and ${data.sky} in ${data.city}.` };
      },
    ],
    onExhausted: "repeat_last",
  },
});

// 3. The engine pool: one engine per session; each engine owns a thread.
const pool = await EnginePool.create({ model, tools: [weather], system: "You are a concise assistant." });
const engine = await pool.getOrCreate({ sessionId: "user-42" });

// 4. Submit an op, subscribe to its events.
const id = engine.submit({ type: "user_input", text: "What's the weather in Paris?" });
for await (const ev of engine.subscribe(id)) {
  const msg = ev.msg;
  switch (msg.type) {
    case "assistant_text":
      process.stdout.write(msg.delta);
      break;
    case "tool_call_started":
      console.log(`\n[tool] ${msg.name} ${JSON.stringify(msg.input)}`);
      break;
    case "tool_call_completed":
      console.log(`[tool] ${msg.name} -> ${msg.status}: ${JSON.stringify(msg.output)}`);
      break;
    case "turn_completed":
      console.log(`\n[done] ${msg.steps} model calls, ${msg.usage.inputTokens} input tokens`);
      break;
    case "turn_failed":
      console.log(`\n[failed] ${msg.error.code}: ${msg.error.message}`);
      break;
    default:
      break;
  }
}
await pool.close();

// 5. Or the one-call helper on the same pipeline.
const result = await run("And in Paris again?", { model, tools: [weather] });
console.log(`run() -> ${result.text}`);
