import { describe, expect, it } from "vitest";
import { z } from "zod";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { EnginePool } from "../src/loop/pool.ts";
import { defineTool } from "../src/tool/define.ts";

/**
 * D3, the light asserting version of bench/concurrency.bench.ts: 10,000 sessions live in one
 * process at once, each running a turn of two model steps (a tool call, then the answer) while all the
 * others wait on their model, and every one of them completes with its own answer on its own
 * thread. Timing and memory are the benchmark's business; this checks that the scale works.
 */

const SESSIONS = 10_000;

const lookup = defineTool({
  name: "lookup",
  description: "Looks a key up.",
  schema: z.object({ q: z.string() }),
  readOnly: true,
  execute: ({ q }) => `value of ${q}`,
});

describe("10,000 concurrent sessions in one process (D3)", () => {
  it("all run to completion, each on its own thread, with every event in order", async () => {
    const delayMs = 20; // every session waits on its model at the same time
    const pool = await EnginePool.create({
      model: new SimClient({
        script: [
          { delayMs, text: "Looking.", toolCalls: [{ name: "lookup", arguments: { q: "a" } }] },
          { delayMs, text: ["The ", "answer."] },
        ],
      }),
      tools: [lookup],
      maxEngines: SESSIONS,
      idleTimeoutMs: 0,
      context: false,
    });
    try {
      const engines = await Promise.all(
        Array.from({ length: SESSIONS }, (_, i) => pool.getOrCreate({ sessionId: `s${i}` })),
      );
      expect(pool.size).toBe(SESSIONS);
      expect(new Set(engines.map((e) => e.threadId)).size).toBe(SESSIONS);
      let waitingAtOnce = 0;
      let inFlight = 0;
      const outcomes = await Promise.all(
        engines.map(async (engine) => {
          const types: string[] = [];
          let text = "";
          for await (const ev of engine.subscribe(engine.submit("What is the answer?"))) {
            if (ev.msg.type === "model_call_started") waitingAtOnce = Math.max(waitingAtOnce, ++inFlight);
            if (ev.msg.type === "model_call_completed") inFlight--;
            if (ev.msg.type === "turn_completed") text = ev.msg.text ?? "";
            if (ev.msg.type.startsWith("turn_") || ev.msg.type.startsWith("tool_call_c"))
              types.push(ev.msg.type);
          }
          return `${types.join(",")} ${text}`;
        }),
      );
      const expected = "turn_started,tool_call_completed,turn_completed The answer.";
      expect(outcomes.filter((o) => o !== expected)).toEqual([]);
      expect(waitingAtOnce).toBeGreaterThan(SESSIONS / 2); // they really were concurrent
      expect(engines.every((e) => e.idle && e.items.length === 5)).toBe(true);
    } finally {
      await pool.close({ drainMs: 0 });
    }
  }, 60_000);
});
