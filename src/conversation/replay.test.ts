import { describe, expect, it } from "vitest";
import type { Event, ResponseItem, RolloutLine } from "../protocol/index.ts";
import { emptyUsage, textMessage } from "../protocol/index.ts";
import { MemoryThreadStore } from "./memory-store.ts";
import { replayRollout } from "./replay.ts";
import { ThreadLog } from "./thread-log.ts";

const meta: RolloutLine = {
  ts: 1,
  type: "thread_meta",
  payload: { schemaVersion: 1, threadId: "t", createdAt: 1 },
};
const item = (payload: ResponseItem): RolloutLine => ({ ts: 2, type: "response_item", payload });
const ended: RolloutLine = {
  ts: 3,
  type: "event",
  payload: {
    msg: { type: "turn_completed", steps: 1, usage: { ...emptyUsage(), inputTokens: 3 }, durationMs: 0 },
  },
};

describe("replayRollout", () => {
  it("carries omitted turn settings forward", () => {
    const lines: RolloutLine[] = [
      meta,
      { ts: 2, type: "turn_context", payload: { turnId: "a", model: "m1", cwd: "/w" } },
      ended,
      { ts: 2, type: "turn_context", payload: { turnId: "b", model: "m2" } },
      ended,
    ];
    const r = replayRollout(lines);
    expect(r.lastTurnContext).toEqual({ turnId: "b", model: "m2", cwd: "/w" });
    expect(r.turns.map((t) => [t.turnId, t.outcome, t.context.model, t.context.cwd])).toEqual([
      ["a", "completed", "m1", "/w"],
      ["b", "completed", "m2", "/w"],
    ]);
  });

  it("assigns events without ids to the open turn and reports its dangling calls", () => {
    const lines: RolloutLine[] = [
      meta,
      { ts: 2, type: "turn_context", payload: { turnId: "a", submissionId: "s" } },
      item(textMessage("user", "go")),
      item({ type: "function_call", callId: "c1", name: "x", arguments: "{}" }),
      item({ type: "function_call", callId: "c2", name: "y", arguments: "{}" }),
      item({ type: "function_call_output", callId: "c1", output: "ok" }),
      { ts: 3, type: "event", payload: { msg: { type: "warning", code: "w", message: "m" } } },
    ];
    const r = replayRollout(lines);
    expect(r.openTurn).toEqual({
      turnId: "a",
      submissionId: "s",
      danglingCalls: [{ type: "function_call", callId: "c2", name: "y", arguments: "{}" }],
      events: [{ type: "warning", code: "w", message: "m" }],
    });
    expect(r.turns[0]?.outcome).toBe("open");
  });

  it("applies rollbacks and starts from the latest checkpoint", () => {
    const ctx = (turnId: string): RolloutLine => ({ ts: 2, type: "turn_context", payload: { turnId } });
    const lines: RolloutLine[] = [
      meta,
      ctx("a"),
      item(textMessage("user", "1")),
      ended,
      {
        ts: 4,
        type: "compacted",
        payload: { strategy: "s", replacementHistory: [textMessage("system", "sum")] },
      },
      ctx("b"),
      item(textMessage("user", "2")),
      ended,
      ctx("c"),
      item(textMessage("user", "3")),
      ended,
      { ts: 5, type: "rollback", payload: { turns: 1 } },
    ];
    const r = replayRollout(lines);
    expect(r.items).toEqual([textMessage("system", "sum"), textMessage("user", "2")]);
    expect(r.turnCount).toBe(2);
    expect(r.turnStarts).toEqual([1]);
    expect(r.usage.inputTokens).toBe(6);
    expect(r.openTurn).toBeUndefined();
  });

  it("returns the very item objects of the lines (no re-encoding)", () => {
    const line = item(textMessage("user", "x"));
    const r = replayRollout([meta, { ts: 2, type: "turn_context", payload: { turnId: "a" } }, line]);
    expect(r.items[0]).toBe(line.payload);
  });
});

describe("ThreadLog line format", () => {
  it("repeats only changed turn settings and omits the open turn's ids on its events", async () => {
    const store = new MemoryThreadStore();
    const log = new ThreadLog("t", await store.create({ schemaVersion: 1, threadId: "t", createdAt: 1 }));
    const end = (turnId: string, submissionId: string): Event => ({
      threadId: "t",
      submissionId,
      turnId,
      seq: 0,
      ts: 9,
      msg: { type: "turn_completed", text: "answer", steps: 1, usage: emptyUsage(), durationMs: 0 },
    });
    log.beginTurn({ turnId: "a", submissionId: "s1", model: "m", cwd: "/w" });
    log.record(end("a", "s1"));
    log.beginTurn({ turnId: "b", submissionId: "s2", model: "m", cwd: "/w" });
    log.record({ ...end("b", "s2"), msg: { type: "warning", code: "w", message: "m" } });
    log.record({
      ...end("a", "s9"),
      msg: { type: "error", error: { code: "e", message: "m", source: "store" } },
    });
    log.record(end("b", "s2"));
    log.beginTurn({ turnId: "c", model: "m2", cwd: "/w", permissionMode: "plan" });
    const lines = (await store.read("t")).slice(1).map((l) => l.payload);
    expect(lines).toEqual([
      { turnId: "a", submissionId: "s1", model: "m", cwd: "/w" },
      { msg: { type: "turn_completed", steps: 1, usage: emptyUsage(), durationMs: 0 } },
      { turnId: "b", submissionId: "s2" },
      { msg: { type: "warning", code: "w", message: "m" } },
      {
        turnId: "a",
        submissionId: "s9",
        msg: { type: "error", error: { code: "e", message: "m", source: "store" } },
      },
      { msg: { type: "turn_completed", steps: 1, usage: emptyUsage(), durationMs: 0 } },
      { turnId: "c", model: "m2", permissionMode: "plan" },
    ]);
    expect(replayRollout(await store.read("t")).lastTurnContext).toEqual({
      turnId: "c",
      model: "m2",
      cwd: "/w",
      permissionMode: "plan",
    });
  });
});
