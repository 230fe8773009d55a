// Time to first text: the engine (AgentEngine + openai-chat provider) against the raw OpenAI
// SDK, both streaming the same recorded Chat Completions response from one local replay
// server. `ttft_added_ms_p50` is what the engine adds on top of the SDK (target <= 1 ms).
import OpenAI from "openai";
import { createOpenAIChat } from "../src/llm/providers/openai-chat.ts";
import { OPENAI_DIALECT } from "../src/llm/providers/openai-chat-request.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { ReplayServer } from "../test/providers/replay-server.ts";
import { percentile, round, writeResult } from "./lib.ts";

const FILE = "openai__openai-text.chunks.txt";
const WARMUP = 30;
const RUNS = 300;

const server = await ReplayServer.start();
const reply = { kind: "fixture", file: FILE, framing: "chat" } as const;
const sdk = new OpenAI({ apiKey: "k", baseURL: server.url, maxRetries: 0, logLevel: "off" });
const model = await createOpenAIChat({
  model: "gpt-4.1-nano",
  apiKey: "k",
  baseUrl: server.url,
  dialect: OPENAI_DIALECT,
});

async function rawTtft(): Promise<number> {
  server.queue(reply);
  const t0 = performance.now();
  let first = Number.NaN;
  const stream = await sdk.chat.completions.create({
    model: "gpt-4.1-nano",
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Name a holiday." },
    ],
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of stream) {
    if (Number.isNaN(first) && chunk.choices[0]?.delta?.content) first = performance.now() - t0;
  }
  return first;
}

async function engineTtft(): Promise<number> {
  server.queue(reply);
  let first = Number.NaN;
  let t0 = 0;
  const engine = await AgentEngine.open({
    model,
    system: "You are terse.",
    listeners: [
      (ev) => {
        if (Number.isNaN(first) && ev.msg.type === "assistant_text") first = performance.now() - t0;
      },
    ],
  });
  t0 = performance.now();
  const id = engine.submit("Name a holiday.");
  for await (const _ of engine.subscribe(id)) {
    // drain the turn
  }
  await engine.close();
  return first;
}

for (let i = 0; i < WARMUP; i++) {
  await rawTtft();
  await engineTtft();
}
const raw: number[] = [];
const viaEngine: number[] = [];
for (let i = 0; i < RUNS; i++) {
  // Alternate so that drift (GC, CPU frequency, other load) hits both sides alike.
  if (i % 2 === 0) {
    raw.push(await rawTtft());
    viaEngine.push(await engineTtft());
  } else {
    viaEngine.push(await engineTtft());
    raw.push(await rawTtft());
  }
}
await server.close();

const rawP50 = percentile(raw, 50);
const engineP50 = percentile(viaEngine, 50);
writeResult(
  "providers",
  {
    ttft_added_ms_p50: round(engineP50 - rawP50, 3),
    ttft_raw_sdk_ms_p50: round(rawP50, 3),
    ttft_engine_ms_p50: round(engineP50, 3),
    ttft_raw_sdk_ms_p95: round(percentile(raw, 95), 3),
    ttft_engine_ms_p95: round(percentile(viaEngine, 95), 3),
    runs: RUNS,
  },
  {
    workload:
      "one recorded OpenAI Chat Completions stream (openai__openai-text, 302 chunks) replayed by a local node:http server; " +
      "raw = OpenAI SDK chat.completions.create to the first content chunk; engine = AgentEngine.submit to the first " +
      "assistant_text event through the openai-chat provider on the same SDK; runs alternate",
    targets: { ttft_added_ms_p50: "<= 1" },
  },
);
