/**
 * The recipe registry of the distributed tests' workers: a history-driven simulator (so any
 * worker continues any thread) and tools whose effects are written to files, one line per run.
 */
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { RecipeRegistry } from "../../src/backends/index.ts";
import { defineTool, type ModelRequest, SimClient } from "../../src/index.ts";

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Calls since the last user message: how many outputs the model has seen in this turn. */
function outputsThisTurn(request: ModelRequest): number {
  let n = 0;
  for (let i = request.items.length - 1; i >= 0; i--) {
    const item = request.items[i];
    if (item?.type === "message" && item.role === "user") break;
    if (item?.type === "function_call_output") n++;
  }
  return n;
}

function lastUserText(request: ModelRequest): string {
  for (let i = request.items.length - 1; i >= 0; i--) {
    const item = request.items[i];
    if (item?.type === "message" && item.role === "user")
      return item.content.map((p) => (p.type === "text" ? p.text : "")).join("");
  }
  return "";
}

/**
 * `sim:effects`: for "<tool> N" it calls <tool> N times, one call per step, then answers
 * "done N". Call ids derive from the thread's history, so a re-sampled step gets the same id.
 */
export function effectsModel(delayMs: number): SimClient {
  return new SimClient({
    name: "effects",
    script: {
      steps: [
        (request) => {
          const [tool = "effect", count = "0"] = lastUserText(request).split(" ");
          const done = outputsThisTurn(request);
          if (done >= Number(count)) return { text: `done ${count}`, delayMs };
          return {
            toolCalls: [{ id: `call_${request.items.length}`, name: tool, arguments: { k: done } }],
            delayMs,
          };
        },
      ],
      onExhausted: "repeat_last",
    },
  });
}

/**
 * `sim:delegator`: step 1 delegates three tasks to child agents (two that make effects, one
 * whose recipe names a tool no worker has); step 2 answers "joined <the delegate output>".
 */
export function delegatorModel(delayMs: number): SimClient {
  return new SimClient({
    name: "delegator",
    script: {
      steps: [
        (request) => {
          const last = request.items.at(-1);
          if (last?.type === "function_call_output")
            return { text: `joined ${String(last.output)}`, delayMs };
          const task = (prompt: string, tools: string[]) => ({ prompt, tools, model: "sim:effects" });
          return {
            toolCalls: [
              {
                id: `call_${request.items.length}`,
                name: "delegate",
                arguments: {
                  tasks: [
                    task("effect 1", ["effect"]),
                    task("effect 2", ["effect"]),
                    task("effect 1", ["no_such_tool"]),
                  ],
                },
              },
            ],
            delayMs,
          };
        },
      ],
      onExhausted: "repeat_last",
    },
  });
}

/** The registry: `effect` (appends to effects.log; not idempotent), `idem_effect` (idempotent), `slow_effect`. */
export function testRegistry(dir: string, delayMs = 20): RecipeRegistry {
  const input = z.object({ k: z.number() });
  return {
    model: (spec) =>
      spec === "sim:effects"
        ? effectsModel(delayMs)
        : spec === "sim:delegator"
          ? delegatorModel(delayMs)
          : undefined,
    tools: [
      defineTool({
        name: "effect",
        description: "Appends a line to the effects log.",
        schema: input,
        execute: ({ k }, ctx) => {
          appendFileSync(join(dir, "effects.log"), `${ctx.threadId} ${ctx.callId} ${k} ${process.pid}\n`);
          return `effect ${k} done`;
        },
      }),
      defineTool({
        name: "idem_effect",
        description: "Records its call id (an idempotent effect: runs are counted in runs.log).",
        schema: input,
        idempotent: true,
        execute: async ({ k }, ctx) => {
          appendFileSync(join(dir, "runs.log"), `${ctx.threadId} ${ctx.callId} ${process.pid}\n`);
          writeFileSync(join(dir, `idem-${ctx.threadId}-${ctx.callId}`), String(k));
          await pause(400, ctx.signal);
          return `idem ${k} done`;
        },
      }),
      defineTool({
        name: "slow_effect",
        description: "Starts an effect, then takes a while to finish it.",
        schema: input,
        execute: async ({ k }, ctx) => {
          appendFileSync(join(dir, "effects.log"), `${ctx.threadId} ${ctx.callId} ${k} ${process.pid}\n`);
          await pause(400, ctx.signal);
          return ctx.signal.aborted ? `slow ${k} cut short` : `slow ${k} done`;
        },
      }),
    ],
  };
}
