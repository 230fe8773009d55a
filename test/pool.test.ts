import { afterEach, describe, expect, it } from "vitest";
import { MemoryThreadStore } from "../src/conversation/memory-store.ts";
import { isTaifengError } from "../src/errors.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { EnginePool } from "../src/loop/pool.ts";

const pools: EnginePool[] = [];
async function makePool(options: Partial<Parameters<typeof EnginePool.create>[0]> = {}) {
  const pool = await EnginePool.create({
    model: new SimClient({ script: { steps: [{ text: "ok" }], onExhausted: "repeat_last" } }),
    idleTimeoutMs: 0,
    ...options,
  });
  pools.push(pool);
  return pool;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close({ drainMs: 0 })));
});

describe("EnginePool", () => {
  it("routes a session id to one engine and opens concurrent requests once", async () => {
    const pool = await makePool();
    const [a, b] = await Promise.all([
      pool.getOrCreate({ sessionId: "s1" }),
      pool.getOrCreate({ sessionId: "s1" }),
    ]);
    expect(a).toBe(b);
    const c = await pool.getOrCreate({ sessionId: "s2" });
    expect(c).not.toBe(a);
    expect(c.threadId).not.toBe(a.threadId);
    expect(pool.size).toBe(2);
    expect(pool.get("s1")).toBe(a);
  });

  it("evicts the least recently used idle engine at the limit, and the session resumes its thread", async () => {
    const store = new MemoryThreadStore();
    const pool = await makePool({ maxEngines: 2, store });
    const s1 = await pool.getOrCreate({ sessionId: "s1" });
    await s1.submitAndWait("remember me");
    const thread1 = s1.threadId;
    await pool.getOrCreate({ sessionId: "s2" });
    await pool.getOrCreate({ sessionId: "s1" }); // s1 is now most recent; s2 is the LRU
    await pool.getOrCreate({ sessionId: "s3" });
    expect(pool.get("s2")).toBeUndefined();
    expect(pool.get("s1")).toBe(s1);
    await pool.getOrCreate({ sessionId: "s4" }); // evicts s1
    expect(s1.status).toBe("closed");
    const again = await pool.getOrCreate({ sessionId: "s1" });
    expect(again).not.toBe(s1);
    expect(again.threadId).toBe(thread1);
    expect(again.items.length).toBe(2);
  });

  it("queues a new session while every engine is busy, and opens it when one finishes", async () => {
    const pool = await makePool({
      maxEngines: 1,
      model: new SimClient({ script: [{ text: "slow", delayMs: 60_000 }] }),
    });
    const busy = await pool.getOrCreate({ sessionId: "busy" });
    const id = busy.submit("work");
    const queued = pool.getOrCreate({ sessionId: "other" });
    await new Promise((r) => setTimeout(r, 50));
    expect(pool.waiting).toBe(1);
    expect(pool.size).toBe(1);
    busy.submit({ type: "interrupt" });
    for await (const _ of busy.subscribe(id)); // the turn ends: the busy engine is idle, so evicted
    const other = await queued;
    expect(pool.waiting).toBe(0);
    expect(pool.get("other")).toBe(other);
    expect(busy.status).toBe("closed");
  });

  it("fails a queued open with pool_exhausted after queueTimeoutMs, saying why", async () => {
    const pool = await makePool({
      maxEngines: 1,
      queueTimeoutMs: 100,
      model: new SimClient({ script: [{ text: "slow", delayMs: 60_000 }] }),
    });
    const busy = await pool.getOrCreate({ sessionId: "busy" });
    busy.submit("work");
    const started = Date.now();
    await expect(pool.getOrCreate({ sessionId: "other" })).rejects.toSatisfy(
      (e) => isTaifengError(e, "pool_exhausted") && /none freed up within 100 ms/.test((e as Error).message),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    const controller = new AbortController();
    const cancelled = pool.getOrCreate({ sessionId: "third", signal: controller.signal });
    controller.abort();
    await expect(cancelled).rejects.toSatisfy((e) => /cancelled/.test((e as Error).message));
    expect(pool.waiting).toBe(0);
    busy.submit({ type: "interrupt" });
  });

  it("sweeps engines idle longer than the timeout", async () => {
    const pool = await makePool();
    const a = await pool.getOrCreate({ sessionId: "a" });
    await a.submitAndWait("x");
    expect(await pool.evictIdle(60_000)).toBe(0);
    expect(await pool.evictIdle(0)).toBe(1);
    expect(a.status).toBe("closed");
    expect(pool.size).toBe(0);
  });

  it("closes gracefully: drains running turns, then refuses new sessions", async () => {
    const pool = await makePool({ model: new SimClient({ script: [{ text: "done", delayMs: 20 }] }) });
    const engine = await pool.getOrCreate({ sessionId: "a" });
    const id = engine.submit("x");
    const events: string[] = [];
    const consumer = (async () => {
      for await (const ev of engine.subscribe(id)) events.push(ev.msg.type);
    })();
    await pool.close({ drainMs: 5_000 });
    await consumer;
    expect(events.at(-1)).toBe("turn_completed");
    expect(engine.status).toBe("closed");
    await expect(pool.getOrCreate({ sessionId: "b" })).rejects.toSatisfy((e) =>
      isTaifengError(e, "pool_closed"),
    );
  });

  it("interrupts turns that outlast the drain window", async () => {
    const pool = await makePool({ model: new SimClient({ script: [{ text: "never", delayMs: 60_000 }] }) });
    const engine = await pool.getOrCreate({ sessionId: "a" });
    const id = engine.submit("x");
    await pool.close({ drainMs: 10 });
    const last = [];
    for await (const ev of engine.subscribe(id)) last.push(ev.msg);
    expect(last.at(-1)).toMatchObject({ type: "turn_aborted", reason: "shutdown" });
  });
});
