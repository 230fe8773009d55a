// durable-scale, long threads (issue 22): reopening many long threads with compaction
// checkpoints, replayed whole (store.open + replayRollout, as before) and from the latest
// checkpoint (store.resume), in one process on the same files. Started by
// durable-scale.bench.ts in its own process; prints its figures as the last stdout line.
// argv[2]: {"threads": 1000, "turns": 1000, "checkpointEvery": 100}
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonlThreadStore } from "../src/conversation/jsonl-store.ts";
import { type ReplayedThread, replayRollout } from "../src/conversation/replay.ts";
import type { RolloutLine } from "../src/protocol/index.ts";
import { SCHEMA_VERSION, textMessage } from "../src/protocol/index.ts";
import { round } from "./lib.ts";

interface LongConfig {
  readonly threads: number;
  readonly turns: number;
  readonly checkpointEvery: number;
}
const config = JSON.parse(process.argv[2] as string) as LongConfig;
const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
};
const usage = {
  inputTokens: 900,
  cachedInputTokens: 800,
  cacheWriteTokens: 0,
  outputTokens: 40,
  reasoningTokens: 0,
};
const dir = mkdtempSync(join(tmpdir(), "taifeng-long-bench-"));
const ids = Array.from({ length: config.threads }, (_, i) => `thr_long_${i}`);

/** Runs `fn` over ids, `width` at a time (a pool reopening its sessions). */
async function each(width: number, fn: (id: string) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < ids.length) await fn(ids[next++] as string);
    }),
  );
}

// Writing: each turn is a user message, a tool call and its output, an answer and its end;
// every `checkpointEvery` turns a compaction replaces the history with a summary.
const tw0 = performance.now();
const writerStore = new JsonlThreadStore({ dir, durability: "none" });
await each(16, async (threadId) => {
  const writer = await writerStore.create({
    schemaVersion: SCHEMA_VERSION,
    threadId,
    createdAt: 1,
    cwd: "/w",
  });
  let ts = 2;
  for (let t = 1; t <= config.turns; t++) {
    const line = (l: Omit<RolloutLine, "ts">) => writer.append({ ts: ts++, ...l } as RolloutLine);
    if (t > 1 && (t - 1) % config.checkpointEvery === 0) {
      line({
        type: "compacted",
        payload: {
          strategy: "summary",
          replacementHistory: [
            textMessage("user", `Summary of turns 1-${t - 1}: the user asked about items.`),
          ],
        },
      });
    }
    line({ type: "turn_context", payload: { turnId: `turn_${t}`, ...(t === 1 ? { model: "sim:m" } : {}) } });
    line({ type: "response_item", payload: textMessage("user", `Question ${t}: what is item ${t}?`) });
    line({
      type: "response_item",
      payload: { type: "function_call", callId: `call_${t}`, name: "lookup", arguments: `{"q":"item ${t}"}` },
    });
    line({
      type: "response_item",
      payload: { type: "function_call_output", callId: `call_${t}`, output: `item ${t} is ${t * 7}` },
    });
    line({ type: "response_item", payload: textMessage("assistant", `Item ${t} is ${t * 7}.`) });
    line({ type: "event", payload: { msg: { type: "turn_completed", steps: 2, usage, durationMs: 900 } } });
    if (t % 50 === 0) await writer.flush();
  }
  await writer.close();
});
await writerStore.close();
const writeMs = performance.now() - tw0;
const bytes = ids.reduce((n, id) => n + statSync(join(dir, `${id}.jsonl`)).size, 0);

/** Reopens every thread (16 at a time), keeping each replayed state as an engine would. */
async function reopenAll(mode: "full" | "checkpoint") {
  const store = new JsonlThreadStore({ dir, durability: "turn" });
  await store.list({ limit: 1 }); // recovery and the directory, outside the timing
  const kept = new Map<string, ReplayedThread>();
  let linesRead = 0;
  const h0 = heap();
  let peak = h0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 10);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await each(16, async (threadId) => {
    if (mode === "full") {
      const opened = await store.open(threadId);
      kept.set(threadId, replayRollout(opened.lines));
      linesRead += opened.lines.length;
      await opened.writer.close();
    } else {
      const resumed = await store.resume(threadId);
      kept.set(threadId, resumed.replayed);
      linesRead += resumed.linesRead;
      await resumed.writer.close();
    }
  });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const peakMb = (Math.max(peak, process.memoryUsage().heapUsed) - h0) / 2 ** 20;
  const heapKb = (heap() - h0) / 1024 / ids.length;
  await store.close();
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, linesRead, heapKb, peakMb, kept };
}

const full = await reopenAll("full");
const fromCheckpoint = await reopenAll("checkpoint");
const same = ids.every(
  (id) => JSON.stringify(full.kept.get(id)) === JSON.stringify(fromCheckpoint.kept.get(id)),
);
rmSync(dir, { recursive: true, force: true });
const n = ids.length;
console.log(
  JSON.stringify({
    threads: n,
    turns_per_thread: config.turns,
    checkpoint_every_turns: config.checkpointEvery,
    transcript_mb: round(bytes / 2 ** 20, 1),
    write_ms: round(writeMs, 0),
    full_replay_ms: round(full.ms, 0),
    full_replay_cpu_ms: round(full.cpuMs, 0),
    full_replay_lines_read: full.linesRead,
    checkpoint_resume_ms: round(fromCheckpoint.ms, 0),
    checkpoint_resume_cpu_ms: round(fromCheckpoint.cpuMs, 0),
    checkpoint_resume_lines_read: fromCheckpoint.linesRead,
    resume_speedup_cpu: round(full.cpuMs / fromCheckpoint.cpuMs, 1),
    full_replay_peak_heap_mb: round(full.peakMb, 1),
    checkpoint_resume_peak_heap_mb: round(fromCheckpoint.peakMb, 1),
    heap_kb_per_thread_kept: round(fromCheckpoint.heapKb, 1),
    states_identical: same,
  }),
);
