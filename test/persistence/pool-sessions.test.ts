import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { MemoryThreadStore } from "../../src/conversation/memory-store.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { EnginePool } from "../../src/loop/pool.ts";
import type { Event } from "../../src/protocol/index.ts";
import { shape } from "../helpers/events.ts";
import { deployTool } from "./hitl-shared.ts";

/** Sessions keep their thread: bindings stored with the threads, eviction, and a SIGKILL restart (K2). */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-pool-sessions-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** Polls until `get` returns something (at most 10 s). */
async function until<T>(get: () => T | undefined): Promise<T> {
  for (let i = 0; i < 2000; i++) {
    const value = get();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error("timed out waiting");
}

const SESSIONS = 2000;
const MAX_ENGINES = 8;

async function phaseOne(): Promise<{ threads: Record<string, string>; most: number }> {
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, "pool-child.ts"), dir, String(SESSIONS), String(MAX_ENGINES)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<string | number | null>((r) => child.on("exit", (code, sig) => r(sig ?? code)));
  const report = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve(out);
    });
    void exited.then(() => reject(new Error(`the child exited early: ${stderr}`)));
  });
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  return JSON.parse(report);
}

describe("EnginePool sessions (K2)", () => {
  it(`${SESSIONS} sessions through ${MAX_ENGINES} engines, then SIGKILL: every session returns to its own thread`, async () => {
    const { threads, most } = await phaseOne();
    expect(Object.keys(threads)).toHaveLength(SESSIONS);
    expect(new Set(Object.values(threads)).size).toBe(SESSIONS); // one thread per session
    expect(most).toBeLessThanOrEqual(MAX_ENGINES); // the bound held: the rest were evicted

    // A new process (here: this one) with a new pool over the same directory.
    const store = new JsonlThreadStore({ dir, durability: "none" });
    const pool = await EnginePool.create({
      model: new SimClient({ script: { steps: [{ text: "welcome back" }], onExhausted: "repeat_last" } }),
      store,
      maxEngines: MAX_ENGINES,
      idleTimeoutMs: 0,
      context: false,
    });
    try {
      expect(await store.list({ limit: 1 })).toHaveLength(1);
      expect((await store.list()).length).toBe(SESSIONS);
      // Every 40th session, plus the first and the last, in an order unlike phase one's.
      const sample = [SESSIONS - 1, 0, ...Array.from({ length: SESSIONS / 40 }, (_, k) => k * 40 + 7)];
      for (const i of sample) {
        const engine = await pool.getOrCreate({ sessionId: `user-${i}` });
        expect(engine.threadId).toBe(threads[`user-${i}`]);
        // The history came back: the session's own message and answer.
        expect(engine.items[0]).toMatchObject({ role: "user", content: [{ text: `remember ${i}` }] });
        expect(engine.items).toHaveLength(2);
        expect(pool.size).toBeLessThanOrEqual(MAX_ENGINES);
      }
      // A session never seen gets a new thread, bound at once.
      const fresh = await pool.getOrCreate({ sessionId: "newcomer" });
      expect(Object.values(threads)).not.toContain(fresh.threadId);
      expect(await store.sessions?.threadOf("newcomer")).toBe(fresh.threadId);
    } finally {
      await pool.close({ drainMs: 0 });
      await store.close();
    }
  }, 60_000);

  it("a binding lives until the session ends, its thread is deleted or it expires", async () => {
    const store = new JsonlThreadStore({ dir });
    const pool = await EnginePool.create({
      model: new SimClient({ script: { steps: [{ text: "ok" }], onExhausted: "repeat_last" } }),
      store,
      idleTimeoutMs: 0,
      sessionTtlMs: 60_000,
    });
    try {
      const a = await pool.getOrCreate({ sessionId: "a" });
      await pool.endSession("a"); // ended: the next open starts a new thread
      const a2 = await pool.getOrCreate({ sessionId: "a" });
      expect(a2.threadId).not.toBe(a.threadId);
      await pool.endSession("a");
      expect(await store.sessions?.threadOf("a")).toBeUndefined();

      const b = await pool.getOrCreate({ sessionId: "b" });
      const thread = b.threadId;
      await b.close();
      await store.delete(thread); // the thread is gone, and so is the binding
      expect(await store.sessions?.threadOf("b")).toBeUndefined();

      await store.sessions?.bind("c", "thr_old");
      expect(await store.sessions?.threadOf("c", 60_000)).toBe("thr_old");
      expect(await store.sessions?.threadOf("c", -1)).toBeUndefined(); // unused for longer than the TTL
      expect(await store.sessions?.threadOf("c")).toBeUndefined(); // and dropped
    } finally {
      await pool.close({ drainMs: 0 });
      await store.close();
    }
  });

  it("a full pool evicts an engine whose turn waits on a person; the session resumes it and the request keeps its id", async () => {
    const store = new MemoryThreadStore();
    const runs: string[] = [];
    const pool = await EnginePool.create({
      model: new SimClient({
        script: {
          steps: [
            { toolCalls: [{ id: "call_deploy", name: "deploy", arguments: { env: "prod" } }] },
            { text: "deployed" },
          ],
        },
      }),
      store,
      maxEngines: 1,
      idleTimeoutMs: 0,
      tools: [deployTool(() => runs.push("deploy"))],
      permissions: { rules: { ask: ["deploy"] }, interactive: true },
    });
    try {
      const first = await pool.getOrCreate({ sessionId: "waits" });
      const asked = new Promise<string>((resolve) => {
        void (async () => {
          for await (const ev of first.subscribe(first.submit("deploy it")))
            if (ev.msg.type === "permission_requested") resolve(ev.msg.requestId);
        })();
      });
      const requestId = await asked;
      expect(first.suspended).toBe(true);
      const other = await pool.getOrCreate({ sessionId: "other" }); // evicts the suspended engine
      expect(first.status).toBe("closed");
      expect(runs).toEqual([]);
      await other.close();

      const seen: Event[] = [];
      const again = await pool.getOrCreate({
        sessionId: "waits",
        model: new SimClient({ script: [{ text: "deployed" }] }),
        listeners: [(ev) => void seen.push(ev)],
      });
      expect(again.threadId).toBe(first.threadId);
      const req = await until(() => seen.find((e) => e.msg.type === "permission_requested"));
      expect(req.msg).toMatchObject({ requestId });
      again.submit({ type: "approval", requestId, decision: "allow_once" });
      await until(() => seen.find((e) => e.msg.type === "turn_completed"));
      expect(runs).toEqual(["deploy"]);
      expect(shape(seen).filter((s) => s.startsWith("permission") || s.startsWith("turn_"))).toEqual([
        "turn_started",
        "permission_requested",
        "permission_resolved",
        "turn_completed",
      ]);
    } finally {
      await pool.close({ drainMs: 0 });
    }
  });
});
