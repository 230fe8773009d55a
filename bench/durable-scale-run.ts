// One run of the durable-scale workload, started by durable-scale.bench.ts in its own process
// (argv[2]: a RunConfig as JSON). Prints its figures as the last stdout line (JSON).
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonlThreadStore } from "../src/conversation/jsonl-store.ts";
import { MemoryThreadStore } from "../src/conversation/memory-store.ts";
import type { Durability, ThreadStore } from "../src/conversation/store.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { EnginePool } from "../src/loop/pool.ts";
import { lookupTool as lookup, round } from "./lib.ts";

export interface RunConfig {
  readonly store: "memory" | "jsonl";
  readonly durability?: Durability;
  readonly groupCommit?: boolean;
  readonly maxOpenFiles?: number;
  readonly sessions: number;
  /** Close the pool, then reopen every thread in a new store and pool. */
  readonly reopen?: boolean;
}

const config = JSON.parse(process.argv[2] as string) as RunConfig;
const LATENCY_MS = 1000;
const STEPS = 3;
const usage = { inputTokens: 200, outputTokens: 20 };
const scriptWith = (delayMs: number) =>
  new SimClient({
    name: "latency",
    script: [
      {
        delayMs,
        text: ["Looking ", "it ", "up."],
        toolCalls: [{ name: "lookup", arguments: { q: "a" } }],
        usage,
      },
      { delayMs, text: ["One ", "more."], toolCalls: [{ name: "lookup", arguments: { q: "b" } }], usage },
      { delayMs, text: ["The ", "answer ", "is ", "42."], usage },
    ],
  });

const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
};
const openFds = () => readdirSync("/proc/self/fd").length;

const dirs: string[] = [];
function makeStore(dir?: string): ThreadStore {
  if (config.store === "memory") return new MemoryThreadStore();
  const at = dir ?? mkdtempSync(join(tmpdir(), "taifeng-scale-bench-"));
  if (!dir) dirs.push(at);
  return new JsonlThreadStore({
    dir: at,
    durability: config.durability ?? "turn",
    ...(config.groupCommit !== undefined ? { groupCommit: config.groupCommit } : {}),
    ...(config.maxOpenFiles !== undefined ? { maxOpenFiles: config.maxOpenFiles } : {}),
  });
}

async function runTurns(pool: EnginePool, sessions: number, prefix: string) {
  const engines = await Promise.all(
    Array.from({ length: sessions }, (_, i) => pool.getOrCreate({ sessionId: `${prefix}${i}` })),
  );
  let failed = 0;
  const errors = new Map<string, number>();
  const t0 = performance.now();
  await Promise.all(
    engines.map(async (engine) => {
      for await (const ev of engine.subscribe(engine.submit("What is the answer?"))) {
        if (ev.msg.type === "turn_failed" || ev.msg.type === "turn_aborted") {
          failed++;
          const key = ev.msg.type === "turn_failed" ? ev.msg.error.message.slice(0, 120) : ev.msg.type;
          errors.set(key, (errors.get(key) ?? 0) + 1);
        }
      }
    }),
  );
  return { wall: performance.now() - t0, failed, errors: [...errors].slice(0, 3), engines };
}

// Warm-up: a long-running server is warm, so the code paths are compiled before measuring.
for (let r = 0; r < 2; r++) {
  const store = makeStore();
  const warm = await EnginePool.create({ model: scriptWith(1), tools: [lookup], store, maxEngines: 1_010 });
  await runTurns(warm, 1_000, "w");
  await warm.close({ drainMs: 0 });
  await store.close();
}
for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });

const dir = config.store === "jsonl" ? mkdtempSync(join(tmpdir(), "taifeng-scale-bench-")) : undefined;
const store = makeStore(dir);
const pool = await EnginePool.create({
  model: scriptWith(LATENCY_MS),
  tools: [lookup],
  store,
  maxEngines: config.sessions + 10,
  idleTimeoutMs: 0,
});
let peakFds = openFds();
const sampler = setInterval(() => {
  peakFds = Math.max(peakFds, openFds());
}, 5);
const before = heap();
const tOpen = performance.now();
const result = await runTurns(pool, config.sessions, "s");
const openAndRunMs = performance.now() - tOpen;
clearInterval(sampler);
peakFds = Math.max(peakFds, openFds());
const statsAfterTurns = store instanceof JsonlThreadStore ? store.stats() : undefined;
const heapPerSession = (heap() - before) / 1024 / config.sessions;
const threadIds = result.engines.map((e) => e.threadId);
result.engines.length = 0;
const tClose = performance.now();
await pool.close({ drainMs: 0 });
await store.close();
const closeMs = performance.now() - tClose;
const statsAfterClose = store instanceof JsonlThreadStore ? store.stats() : undefined;
const locksLeft = dir ? readdirSync(dir).filter((n) => n.endsWith(".lock")).length : 0;
if (locksLeft > 0) console.error(`locks left after close: ${locksLeft}`);
if (new Set(threadIds).size !== threadIds.length)
  console.error(`duplicate thread ids: ${threadIds.length - new Set(threadIds).size}`);

const figures: Record<string, unknown> = {
  sessions: config.sessions,
  wall_ms: round(result.wall, 0),
  wall_vs_ideal: round(result.wall / (STEPS * LATENCY_MS), 3),
  failed_turns: result.failed,
  errors: result.errors,
  create_and_run_ms: round(openAndRunMs, 0),
  heap_kb_per_idle_session: round(heapPerSession, 1),
  peak_open_fds: peakFds,
  close_ms: round(closeMs, 0),
  locks_left_after_close: locksLeft,
};
if (statsAfterTurns) {
  const k = config.sessions / 1000;
  figures.turn_path_fsyncs = statsAfterTurns.wal?.syncs ?? statsAfterTurns.transcriptSyncs;
  figures.fsyncs_per_1k_turns = round((statsAfterTurns.wal?.syncs ?? statsAfterTurns.transcriptSyncs) / k, 1);
  figures.wal_records = statsAfterTurns.wal?.records ?? 0;
  figures.checkpoint_fsyncs_during_turns = statsAfterTurns.wal?.checkpointSyncs ?? 0;
  const allSyncs = (st: typeof statsAfterTurns | undefined) =>
    (st?.transcriptSyncs ?? 0) + (st?.wal?.syncs ?? 0) + (st?.wal?.checkpointSyncs ?? 0);
  figures.close_fsyncs_per_1k_threads = round((allSyncs(statsAfterClose) - allSyncs(statsAfterTurns)) / k, 1);
  figures.budget_peak = statsAfterTurns.fds.peak;
  figures.directory_transactions_per_1k_turns = round((statsAfterTurns.directory?.transactions ?? 0) / k, 1);
  figures.directory_writes_per_1k_turns = round((statsAfterTurns.directory?.writes ?? 0) / k, 1);
  figures.close_release_groups = statsAfterClose?.releases?.groups ?? 0;
  figures.emfile_retries = statsAfterTurns.fds.retries;
}

if (config.reopen && dir) {
  // A restart: a new store and pool on the same directory resume every thread.
  const again = makeStore(dir);
  const pool2 = await EnginePool.create({
    model: scriptWith(1),
    tools: [lookup],
    store: again,
    maxEngines: config.sessions + 10,
    idleTimeoutMs: 0,
  });
  let peak2 = openFds();
  const sampler2 = setInterval(() => {
    peak2 = Math.max(peak2, openFds());
  }, 5);
  const heap0 = heap();
  const t0 = performance.now();
  const reopened = await Promise.all(
    threadIds.map((threadId, i) => pool2.getOrCreate({ sessionId: `r${i}`, threadId })),
  );
  const reopenMs = performance.now() - t0;
  clearInterval(sampler2);
  figures.reopen_threads = reopened.length;
  figures.reopen_ms = round(reopenMs, 0);
  figures.reopen_turns_seen = reopened.reduce((n, e) => n + (e.items.length > 0 ? 1 : 0), 0);
  figures.reopen_heap_kb_per_session = round((heap() - heap0) / 1024 / reopened.length, 1);
  figures.reopen_peak_open_fds = Math.max(peak2, openFds());
  reopened.length = 0;
  await pool2.close({ drainMs: 0 });
  await again.close();
}
if (dir) rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(figures));
