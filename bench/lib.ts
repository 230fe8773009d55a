import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { defineTool } from "../src/tool/define.ts";

/** Where results go: bench/results/<name>.json. */
export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "results");

/** The machine a benchmark ran on, recorded with every result. */
export function machine(): { node: string; cpu: string; cores: number; memoryGb: number; platform: string } {
  const list = cpus();
  return {
    node: process.version,
    cpu: list[0]?.model.trim() ?? "unknown",
    cores: list.length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform}-${process.arch}`,
  };
}

/**
 * Writes `{ benchmark, node, cpu, date, figures, ... }` to bench/results/<name>.json and
 * prints it. `extra` holds context (workload description, targets, raw samples).
 */
export function writeResult(
  name: string,
  figures: Record<string, number | string | boolean>,
  extra: Record<string, unknown> = {},
): void {
  const m = machine();
  const result = {
    benchmark: name,
    node: m.node,
    cpu: m.cpu,
    date: new Date().toISOString(),
    machine: m,
    figures,
    ...extra,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`${name}: ${JSON.stringify(figures)}\n  -> ${path}`);
}

/** Percentile (0..100) of a numeric sample, nearest-rank. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The read-only tool the kernel benchmarks call: returns `value of <q>` synchronously. */
export const lookupTool = defineTool({
  name: "lookup",
  description: "Looks a key up.",
  schema: z.object({ q: z.string() }),
  readOnly: true,
  execute: ({ q }) => `value of ${q}`,
});

/** The kernel-overhead model: step 1 calls lookup, step 2 streams three text deltas. */
export function kernelModel(): SimClient {
  const usage = { inputTokens: 50, outputTokens: 10 };
  return new SimClient({
    name: "bench",
    script: [
      { toolCalls: [{ name: "lookup", arguments: { q: "answer" } }], usage },
      { text: ["The ", "answer ", "is 42."], usage },
    ],
  });
}

/**
 * One kernel-overhead run: open an engine (in-memory store), submit one user_input, consume
 * every event of the submission, close the engine. Returns the number of events; throws on a
 * failed turn.
 */
export async function kernelRun(model: SimClient): Promise<number> {
  const engine = await AgentEngine.open({ model, tools: [lookupTool] });
  const id = engine.submit("What is the answer?");
  let count = 0;
  for await (const ev of engine.subscribe(id)) {
    count++;
    if (ev.msg.type === "turn_failed") throw new Error(JSON.stringify(ev.msg.error));
  }
  await engine.close();
  return count;
}
