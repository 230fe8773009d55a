// Exactly-once under kill -9: real worker processes, real Redis and PostgreSQL.
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Outcome, Ticket } from "../../src/backends/index.ts";
import { type RolloutLine, replayRollout } from "../../src/index.ts";
import { services } from "../helpers/services.ts";
import { type Harness, harness } from "./harness.ts";

const svc = await services();
let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

const logLines = (path: string) => {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").filter(Boolean);
  } catch {
    return [];
  }
};

/** Every call has exactly one output, every turn ended, no turn is open. */
function wellFormed(lines: readonly RolloutLine[]): { calls: string[]; outputs: Map<string, string> } {
  const replay = replayRollout(lines);
  expect(replay.openTurn).toBeUndefined();
  const calls: string[] = [];
  const outputs = new Map<string, string>();
  for (const item of replay.items) {
    if (item.type === "function_call") calls.push(item.callId);
    if (item.type === "function_call_output") {
      expect(outputs.has(item.callId), `two outputs for ${item.callId}`).toBe(false);
      outputs.set(item.callId, typeof item.output === "string" ? item.output : JSON.stringify(item.output));
    }
  }
  expect([...outputs.keys()].sort()).toEqual([...calls].sort());
  return { calls, outputs };
}

async function waitAll(h: Harness, tickets: Ticket[], timeoutMs: number): Promise<Outcome[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const outcomes = await Promise.all(tickets.map((t) => h.backend.outcome(t)));
    if (outcomes.every((o) => o.status !== "queued" && o.status !== "running")) return outcomes;
    if (Date.now() > deadline)
      throw new Error(
        `not done after ${timeoutMs} ms: ${JSON.stringify(outcomes.filter((o) => o.status === "queued" || o.status === "running").length)} pending`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The suite's run: 50 threads, one turn of three effects each, 4 kills. TAIFENG_HEAVY=1: two
// turns per thread and 12 kills (about a minute on a loaded 2-core machine).
const HEAVY = process.env.TAIFENG_HEAVY === "1";
const KILLS = Number(process.env.TAIFENG_KILLS ?? (HEAVY ? 12 : 4));

describe.runIf(svc.run)("exactly-once under kill -9", () => {
  it("two workers, 50 threads, workers killed at random moments: every effect once, every turn completes", async () => {
    const T0 = Date.now();
    h = await harness();
    const hh = h;
    const workers: ChildProcess[] = await Promise.all(
      [1, 2].map(() => hh.spawnWorker({ concurrency: 8, delayMs: 30 })),
    );
    console.log(`workers up at ${Date.now() - T0} ms`);
    const threads = Array.from({ length: 50 }, (_, i) => `t${i}`);
    const perThread = await Promise.all(
      threads.map(async (threadId) => {
        await hh.backend.createThread({ threadId, recipe: { model: "sim:effects", tools: ["effect"] } });
        const first = await hh.backend.submit(threadId, "effect 3");
        return HEAVY ? [first, await hh.backend.submit(threadId, "effect 2")] : [first];
      }),
    );
    const tickets: Ticket[] = perThread.flat();
    const total = HEAVY ? 250 : 150;
    console.log(`submitted at ${Date.now() - T0} ms`);
    let kills = 0;
    const effects = join(h.dir, "effects.log");
    const t0 = Date.now();
    // Kill while work is in flight: at random progress points between the first and last effect.
    const step = Math.floor((total - 20) / KILLS);
    const points = Array.from({ length: KILLS }, (_, i) => 5 + i * step + Math.floor(Math.random() * step));
    const respawned: Promise<unknown>[] = [];
    for (const point of points) {
      while (logLines(effects).length < point)
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 30));
      const live = workers.filter((w) => w.exitCode === null && w.signalCode === null);
      const victim = live[Math.floor(Math.random() * live.length)];
      if (!victim) break;
      victim.kill("SIGKILL");
      kills++;
      respawned.push(h.spawnWorker({ concurrency: 8, delayMs: 30 }).then((w) => workers.push(w)));
    }
    await Promise.all(respawned);
    const outcomes = await waitAll(h, tickets, 120_000);
    console.log(`all done at ${Date.now() - t0} ms`);
    expect(kills).toBe(KILLS);
    expect(outcomes.map((o) => o.status)).toEqual(tickets.map(() => "completed"));
    expect(outcomes.map((o) => (o as { text: string }).text)).toEqual(
      tickets.map((_, i) => (HEAVY && i % 2 === 1 ? "done 2" : "done 3")),
    );

    // Effects: one line per (thread, call); every call answered normally ran exactly once,
    // a call cut by a kill ran at most once and was answered "not completed".
    const seen = new Map<string, number>();
    for (const line of logLines(effects)) {
      const [thread, call] = line.split(" ");
      const key = `${thread} ${call}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    expect([...seen.values()].filter((n) => n > 1)).toEqual([]);
    let interrupted = 0;
    for (const threadId of threads) {
      const { calls, outputs } = wellFormed(await h.store.read(threadId));
      for (const call of calls) {
        const ran = seen.get(`${threadId} ${call}`) ?? 0;
        const output = outputs.get(call) ?? "";
        if (output.startsWith("effect ")) expect(ran, `${threadId} ${call}`).toBe(1);
        else {
          expect(output).toMatch(/not completed/);
          expect(ran).toBeLessThanOrEqual(1);
          interrupted++;
        }
      }
      const all = [...seen.keys()].filter((k) => k.startsWith(`${threadId} `)).map((k) => k.split(" ")[1]);
      expect(
        all.every((c) => calls.includes(c as string)),
        `${threadId}: an effect of a call not in the transcript`,
      ).toBe(true);
    }
    console.log(`kills: ${kills}, calls interrupted by a kill: ${interrupted}, effects: ${seen.size}`);
  }, 180_000);
});
