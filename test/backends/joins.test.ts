// Child agents across worker processes as BullMQ flows: the parent's call parks and its turn holds
// no job; the join job continues it on any worker once every child finished, failures as data.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ChildResult } from "../../src/backends/bullmq/joins.ts";
import { services } from "../helpers/services.ts";
import { type Harness, harness } from "./harness.ts";

const svc = await services();
let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

describe.runIf(svc.run)("child joins across workers", () => {
  it("a parent delegates to three children on two worker processes; a failed child reaches it as data", async () => {
    h = await harness();
    const hh = h;
    await Promise.all([1, 2].map(() => hh.spawnWorker({ concurrency: 4, delayMs: 5 })));
    const parent = await h.backend.createThread({ recipe: { model: "sim:delegator", tools: ["delegate"] } });
    const ticket = await h.backend.submit(parent, "go");
    const outcome = await h.backend.wait(ticket, {
      throughSuspension: true,
      signal: AbortSignal.timeout(100_000),
    });
    expect(outcome.status).toBe("completed");
    const text = (outcome as { text: string }).text;
    expect(text.startsWith("joined ")).toBe(true);
    const results = JSON.parse(text.slice("joined ".length)) as ChildResult[];
    expect(results.map((r) => [r.task, r.status, r.text])).toEqual([
      ["effect 1", "completed", "done 1"],
      ["effect 2", "completed", "done 2"],
      ["effect 1", "rejected", undefined],
    ]);
    expect(results[2]?.error).toContain("no_such_tool");
    // Each child's effects ran once, in the children's threads.
    const effects = readFileSync(join(h.dir, "effects.log"), "utf8").trim().split("\n");
    expect(effects.filter((l) => l.startsWith(`${results[0]?.threadId} `))).toHaveLength(1);
    expect(effects.filter((l) => l.startsWith(`${results[1]?.threadId} `))).toHaveLength(2);
    // The parent parked (its turn held no job) and was continued; each child's thread names its parent.
    const lines = await h.store.read(parent);
    const parked = lines.filter(
      (l) =>
        l.type === "event" &&
        l.payload.msg.type === "user_input_requested" &&
        l.payload.msg.awaiting === "agents",
    );
    expect(parked.length).toBeGreaterThanOrEqual(1);
    for (const r of results) {
      const meta = (await h.store.read(r.threadId))[0];
      expect(meta?.type === "thread_meta" && meta.payload.agent?.parentThreadId).toBe(parent);
    }
  }, 120_000);
});
