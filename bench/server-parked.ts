// Parked threads: N threads wait on an approval; heap with their engines in memory, then
// after the server evicts them; the time from an approval over HTTP to the tool having run
// for an evicted thread (reopen + re-ask + answer), and the cost of a /metrics scrape.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { z } from "zod";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import { createServer } from "../src/server/server.ts";
import { defineTool } from "../src/tool/define.ts";
import { percentile, round } from "./lib.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

async function until(test: () => boolean | Promise<boolean>, what: string, ms = 300_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Parks `threads` threads on approvals; returns the figures. */
export async function parked(dir: string, threads: number, answers: number) {
  const ran = new Set<string>();
  const model = new SimClient({
    onExhausted: "repeat_last",
    script: [
      (request: ModelRequest) =>
        request.items.at(-1)?.type === "function_call_output"
          ? { text: "done" }
          : { toolCalls: [{ name: "touch", arguments: { path: `f${request.threadId}` } }] },
    ],
  });
  const touch = defineTool({
    name: "touch",
    description: "Records a path.",
    schema: z.object({ path: z.string() }),
    permission: { rule: "Bash", field: "path" },
    execute: ({ path }) => {
      ran.add(path);
      return "ok";
    },
  });
  const server = await createServer({
    storageDir: dir,
    port: 0,
    insecureLocal: true,
    env: { HOME: dir },
    model,
    tools: [touch],
    permissions: { settings: { env: { HOME: dir }, projectTrust: false } },
    cwd: dir,
    rateLimitPerMinute: 10_000_000,
    maxEngines: threads + 16,
    evictSuspendedMs: -1, // evicted by hand below, after the heap is measured with them live
  });
  const url = await server.listen();
  const json = async (path: string, init?: RequestInit) =>
    (await (
      await fetch(`${url}${path}`, { ...init, headers: { "content-type": "application/json" } })
    ).json()) as Record<string, unknown>;
  try {
    const baseline = heapMb();
    for (let i = 0; i < threads; i++)
      await json("/v1/threads", { method: "POST", body: JSON.stringify({ input: "go" }) });
    const inbox = async () =>
      (await json("/v1/approvals")).approvals as { threadId: string; requestId: string }[];
    await until(async () => (await inbox()).length === threads, "every thread parked");
    const live = heapMb();
    const enginesLive = server.hub.pool.size;
    server.hub.evictSuspended(0);
    await until(() => server.hub.pool.size === 0, "evictions");
    await server.hub.evictionsSettled();
    const evicted = heapMb();
    const rows = await inbox();
    const waits: number[] = [];
    for (const row of rows.slice(0, answers)) {
      const t0 = performance.now();
      await json(`/v1/threads/${row.threadId}/ops`, {
        method: "POST",
        body: JSON.stringify({ type: "approval", requestId: row.requestId, decision: "allow_once" }),
      });
      await until(() => ran.has(`f${row.threadId}`), "the tool to run");
      waits.push(performance.now() - t0);
    }
    const scrapes: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      await (await fetch(`${url}/metrics`)).text();
      scrapes.push(performance.now() - t0);
    }
    return {
      figures: {
        parked_threads: threads,
        parked_engines_live: enginesLive,
        parked_heap_mb_live: round(live - baseline, 1),
        parked_heap_mb_after_evict: round(evicted - baseline, 1),
        parked_heap_kb_per_engine: round(((live - evicted) * 1024) / threads, 1),
        approval_after_evict_to_tool_ms_p50: round(percentile(waits, 50), 1),
        metrics_scrape_ms_p50: round(percentile(scrapes, 50), 1),
      },
      samples: {
        approval_after_evict_ms: waits.map((x) => round(x, 1)),
        scrape_ms: scrapes.map((x) => round(x, 1)),
      },
      ranOnce: ran.size === answers,
    };
  } finally {
    await server.close();
  }
}
