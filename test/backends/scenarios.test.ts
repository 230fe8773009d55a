// Failure semantics of the BullMQ backend, each at a chosen moment: real workers, Redis, PostgreSQL.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Outcome } from "../../src/backends/index.ts";
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

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function outputs(lines: readonly RolloutLine[]): string[] {
  return replayRollout(lines).items.flatMap((i) =>
    i.type === "function_call_output" ? [String(i.output)] : [],
  );
}

describe.runIf(svc.run)("BullMQ backend failure semantics", () => {
  it("kill -9 after an effect started: it is not run again, the model reads 'not completed', the turn completes", async () => {
    h = await harness();
    const hh = h;
    const workers = await Promise.all([1, 2].map(() => hh.spawnWorker()));
    const threadId = await h.backend.createThread({
      recipe: { model: "sim:effects", tools: ["slow_effect"] },
    });
    const ticket = await h.backend.submit(threadId, "slow_effect 1");
    const effects = join(h.dir, "effects.log");
    await until(() => logLines(effects).length === 1, "the effect to start");
    const pid = Number(logLines(effects)[0]?.split(" ")[3]);
    workers.find((w) => w.pid === pid)?.kill("SIGKILL"); // the other worker takes the stalled job
    expect(await h.backend.wait(ticket)).toMatchObject({ status: "completed", text: "done 1" });
    expect(logLines(effects)).toHaveLength(1);
    expect(outputs(await h.store.read(threadId))).toEqual([
      "Tool call not completed: the process stopped during the turn.",
    ]);
  }, 60_000);

  it("kill -9 during an idempotent effect: it runs again under the same call id", async () => {
    h = await harness();
    const hh = h;
    const workers = await Promise.all([1, 2].map(() => hh.spawnWorker()));
    const threadId = await h.backend.createThread({
      recipe: { model: "sim:effects", tools: ["idem_effect"] },
    });
    const ticket = await h.backend.submit(threadId, "idem_effect 1");
    const runs = join(h.dir, "runs.log");
    await until(() => logLines(runs).length === 1, "the effect to start");
    const pid = Number(logLines(runs)[0]?.split(" ")[2]);
    workers.find((w) => w.pid === pid)?.kill("SIGKILL");
    expect(await h.backend.wait(ticket)).toMatchObject({ status: "completed", text: "done 1" });
    const [a, b, ...more] = logLines(runs);
    expect(more).toEqual([]);
    // The same thread and call id (the key an external system deduplicates on), another process.
    expect(b?.split(" ").slice(0, 2)).toEqual(a?.split(" ").slice(0, 2));
    expect(b?.split(" ")[2]).not.toBe(a?.split(" ")[2]);
    expect(outputs(await h.store.read(threadId))).toEqual(["idem 0 done"]);
  }, 60_000);

  it("a turn suspended for approval holds no job, survives a worker restart and continues on the approval", async () => {
    h = await harness();
    const first = await h.worker();
    const threadId = await h.backend.createThread({
      recipe: { model: "sim:effects", tools: ["effect"], permissions: { ask: ["effect"] } },
    });
    const ticket = await h.backend.submit(threadId, "effect 1");
    expect(await h.backend.wait(ticket)).toMatchObject({ status: "suspended" });
    await until(async () => (await h?.backend.bullQueue.getActiveCount()) === 0, "the job to finish");
    expect(logLines(join(h.dir, "effects.log"))).toEqual([]);
    const requested = (await h.store.read(threadId)).flatMap((l) =>
      l.type === "event" && l.payload.msg.type === "permission_requested" ? [l.payload.msg.requestId] : [],
    );
    expect(requested).toHaveLength(1);
    await first.close();
    await h.worker();
    const approval = await h.backend.submit(threadId, {
      type: "approval",
      requestId: requested[0] as string,
      decision: "allow_once",
    });
    const o = await h.backend.wait(ticket, { throughSuspension: true });
    expect(o).toMatchObject({
      status: "completed",
      text: "done 1",
    });
    expect(await h.backend.outcome(approval)).toMatchObject({ status: "applied" });
    expect(logLines(join(h.dir, "effects.log"))).toHaveLength(1);
  }, 60_000);

  it("interrupt from another process reaches the worker running the turn", async () => {
    h = await harness();
    await h.spawnWorker();
    const threadId = await h.backend.createThread({
      recipe: { model: "sim:effects", tools: ["slow_effect"] },
    });
    const ticket = await h.backend.submit(threadId, "slow_effect 5");
    await until(() => logLines(join(h?.dir ?? "", "effects.log")).length === 1, "the first effect");
    await h.backend.interrupt(threadId, "stop");
    const outcome = await h.backend.wait(ticket);
    expect(outcome.status).toBe("aborted");
    expect(logLines(join(h.dir, "effects.log"))).toHaveLength(1);
  }, 60_000);

  it("interrupt of a suspended turn (no worker holds it) goes through the inbox and aborts it", async () => {
    h = await harness();
    await h.spawnWorker();
    const threadId = await h.backend.createThread({
      recipe: { model: "sim:effects", tools: ["effect"], permissions: { ask: ["effect"] } },
    });
    const ticket = await h.backend.submit(threadId, "effect 1");
    expect(await h.backend.wait(ticket)).toMatchObject({ status: "suspended" });
    const queued = await h.backend.interrupt(threadId, "not now");
    expect(queued).toBeDefined();
    expect(await h.backend.wait(ticket, { throughSuspension: true })).toMatchObject({ status: "aborted" });
    expect(logLines(join(h.dir, "effects.log"))).toEqual([]);
    // A thread with nothing open is left alone.
    expect(await h.backend.interrupt(threadId)).toBeUndefined();
  }, 60_000);

  it("a poisoned recipe fails its turns with a clear error, once, without retries", async () => {
    h = await harness();
    await h.worker();
    const threadId = await h.backend.createThread({
      recipe: { model: "sim:effects", tools: ["effect", "nope"] },
    });
    const ticket = await h.backend.submit(threadId, "effect 1");
    const outcome: Outcome = await h.backend.wait(ticket);
    expect(outcome).toEqual({
      status: "rejected",
      error:
        "the thread's recipe cannot run: recipe names tool(s) this worker does not have: nope (registry has: effect, idem_effect, slow_effect, delegate)",
    });
    const job = await h.backend.bullQueue.getJob(`${threadId}__1`);
    expect(await job?.getState()).toBe("failed");
    await new Promise((r) => setTimeout(r, 300));
    expect(await job?.getState()).toBe("failed");
    const failedTurns = (await h.store.read(threadId)).filter(
      (l) => l.type === "event" && l.payload.msg.type === "turn_failed",
    );
    expect(failedTurns).toHaveLength(1); // no loop: one failed turn for the poisoned op
    const [row] = await h.store.list();
    expect(row).toMatchObject({ threadId, status: "failed" });
    const again = await h.backend.wait(await h.backend.submit(threadId, "effect 1"));
    expect(again.status).toBe("rejected");
  }, 60_000);

  it("a duplicate or redelivered job is a no-op: the transcript and the effects do not change", async () => {
    h = await harness();
    await h.worker();
    const threadId = await h.backend.createThread({ recipe: { model: "sim:effects", tools: ["effect"] } });
    const ticket = await h.backend.submit(threadId, "effect 1");
    expect(await h.backend.wait(ticket)).toMatchObject({ status: "completed" });
    const before = await h.store.read(threadId);
    const again = await h.backend.bullQueue.add("thread", { threadId }, { jobId: `${threadId}__1` });
    expect(again.id).toBe(`${threadId}__1`);
    const redelivered = await h.backend.bullQueue.add("thread", { threadId }, { jobId: `${threadId}__redo` });
    await until(async () => (await redelivered.getState()) === "completed", "the redelivered job");
    expect(await h.store.read(threadId)).toEqual(before);
    expect(logLines(join(h.dir, "effects.log"))).toHaveLength(1);
  }, 60_000);
});
