import { describe, expect, it } from "vitest";
import type { RolloutLine } from "../protocol/index.ts";
import { summarizeThread, titleFrom } from "./summary.ts";

const usage = (n: number) => ({
  inputTokens: n,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 1,
  reasoningTokens: 0,
});
const meta: RolloutLine = {
  ts: 10,
  type: "thread_meta",
  payload: { schemaVersion: 1, threadId: "t", createdAt: 10 },
};
const ctx = (id: string, ts = 20): RolloutLine => ({ ts, type: "turn_context", payload: { turnId: id } });
const user = (text: string): RolloutLine => ({
  ts: 21,
  type: "response_item",
  payload: { type: "message", role: "user", content: [{ type: "text", text }] },
});
const end = (type: "turn_completed" | "turn_failed" | "turn_aborted", n: number, ts = 30): RolloutLine => {
  const base = { steps: 1, usage: usage(n), durationMs: 1 };
  if (type === "turn_failed")
    return {
      ts,
      type: "event",
      payload: { msg: { type, ...base, error: { code: "x", message: "x", source: "model" } } },
    };
  if (type === "turn_aborted")
    return { ts, type: "event", payload: { msg: { type, ...base, reason: "interrupt", message: "m" } } };
  return { ts, type: "event", payload: { msg: { type, ...base } } };
};
const permission: RolloutLine = {
  ts: 25,
  type: "event",
  payload: {
    msg: {
      type: "permission_requested",
      requestId: "r1",
      callId: "c1",
      tool: "bash",
      input: {},
      suggestions: [],
    },
  },
};

describe("summarizeThread", () => {
  it("counts visible turns, totals every ended turn's usage and takes the last line's time", () => {
    const info = summarizeThread([
      meta,
      ctx("a"),
      user("Hi"),
      end("turn_completed", 5),
      ctx("b"),
      end("turn_aborted", 7, 99),
    ]);
    expect(info).toMatchObject({
      threadId: "t",
      title: "Hi",
      createdAt: 10,
      updatedAt: 99,
      turns: 2,
      status: "idle",
    });
    expect(info.usage.inputTokens).toBe(12);
  });

  it("reports running, suspended and failed", () => {
    expect(summarizeThread([meta, ctx("a")]).status).toBe("running");
    expect(summarizeThread([meta, ctx("a"), permission]).status).toBe("suspended");
    const resolved: RolloutLine = {
      ts: 26,
      type: "event",
      payload: { msg: { type: "permission_resolved", requestId: "r1", decision: "allow_once", by: "user" } },
    };
    expect(summarizeThread([meta, ctx("a"), permission, resolved]).status).toBe("running");
    expect(summarizeThread([meta, ctx("a"), end("turn_failed", 1)]).status).toBe("failed");
    expect(
      summarizeThread([meta, ctx("a"), end("turn_failed", 1), ctx("b"), end("turn_completed", 1)]).status,
    ).toBe("idle");
  });

  it("drops rolled-back turns from the count but keeps their usage, and folds checkpoints", () => {
    const lines: RolloutLine[] = [
      meta,
      ctx("a"),
      end("turn_completed", 1),
      { ts: 40, type: "compacted", payload: { strategy: "s", replacementHistory: [] } },
      ctx("b"),
      end("turn_completed", 2),
      ctx("c"),
      end("turn_completed", 4),
      { ts: 50, type: "rollback", payload: { turns: 5 } },
    ];
    const info = summarizeThread(lines);
    expect(info.turns).toBe(1); // the checkpointed turn cannot be rolled back
    expect(info.usage.inputTokens).toBe(7);
    expect(summarizeThread([meta, ctx("a"), { ts: 1, type: "rollback", payload: { turns: 1 } }]).status).toBe(
      "idle",
    );
  });

  it("prefers the title given at creation", () => {
    const titled: RolloutLine = { ...meta, payload: { ...meta.payload, title: "Given" } } as RolloutLine;
    expect(summarizeThread([titled, ctx("a"), user("Derived")]).title).toBe("Given");
  });
});

describe("titleFrom", () => {
  it("takes the first non-empty line and cuts it to 80 characters", () => {
    expect(titleFrom("\n\n  First line  \nsecond")).toBe("First line");
    expect(titleFrom("x".repeat(100))).toBe(`${"x".repeat(79)}…`);
    expect(titleFrom("  \n ")).toBeUndefined();
  });
});
