// Parallel tools: concurrency-safe (read-only) calls run together, side-effecting calls run
// alone and in order, and outputs reach the model in the order it asked for them.
// Run: node examples/parallel-tools.ts
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { AgentEngine, defineTool, SimClient } from "../src/index.ts";

const t0 = performance.now();
const at = () => `${String(Math.round(performance.now() - t0)).padStart(4)} ms`;

const fetchPage = defineTool({
  name: "fetch_page",
  description: "Fetches a page (read-only, safe to run in parallel).",
  schema: z.object({ url: z.string() }),
  readOnly: true,
  execute: async ({ url }, ctx) => {
    console.log(`${at()}  start fetch ${url}`);
    await sleep(200, undefined, { signal: ctx.signal });
    console.log(`${at()}  end   fetch ${url}`);
    return `<html>${url}</html>`;
  },
});
const saveNote = defineTool({
  name: "save_note",
  description: "Appends a note (side effect: runs alone).",
  schema: z.object({ text: z.string() }),
  execute: async ({ text }, ctx) => {
    console.log(`${at()}  start save "${text}"`);
    await sleep(100, undefined, { signal: ctx.signal });
    console.log(`${at()}  end   save "${text}"`);
    return "saved";
  },
});

const model = new SimClient({
  name: "parallel",
  script: [
    {
      text: "Fetching three pages, then saving two notes.",
      toolCalls: [
        { name: "fetch_page", arguments: { url: "a.example" } },
        { name: "fetch_page", arguments: { url: "b.example" } },
        { name: "fetch_page", arguments: { url: "c.example" } },
        { name: "save_note", arguments: { text: "first" } },
        { name: "save_note", arguments: { text: "second" } },
      ],
    },
    { text: "Done: three pages fetched together (~200 ms), two notes saved one after the other." },
  ],
});

const engine = await AgentEngine.open({ model, tools: [fetchPage, saveNote] });
const events = await engine.submitAndWait("Research and take notes.");
const outputs = engine.items.filter((i) => i.type === "function_call_output").map((o) => o.output);
console.log(`\noutputs in call order: ${JSON.stringify(outputs)}`);
const end = events.at(-1)?.msg;
console.log(end?.type === "turn_completed" ? `answer: ${end.text}` : `turn ended: ${end?.type}`);
await engine.close();
