import { describe, expect, it } from "vitest";
import { isTaifengError } from "../errors.ts";
import type { RolloutLine } from "../protocol/index.ts";
import { parseTranscript } from "./jsonl-reader.ts";

const meta: RolloutLine = {
  ts: 1,
  type: "thread_meta",
  payload: { schemaVersion: 1, threadId: "thr_a", createdAt: 1 },
};
const ctx: RolloutLine = { ts: 2, type: "turn_context", payload: { turnId: "turn_1", model: "sim:x" } };
const user: RolloutLine = {
  ts: 3,
  type: "response_item",
  payload: { type: "message", role: "user", content: [{ type: "text", text: "héllo ✓" }] },
};

const text = (...lines: RolloutLine[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join("");

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isTaifengError(err, "store_error")) return err.message;
    throw err;
  }
  throw new Error("expected a store_error");
}

describe("parseTranscript", () => {
  it("returns every line of a clean file and its full length", () => {
    const buf = Buffer.from(text(meta, ctx, user));
    const parsed = parseTranscript(buf, "t.jsonl");
    expect(parsed.lines).toEqual([meta, ctx, user]);
    expect(parsed.validBytes).toBe(buf.length);
    expect(parsed.tornBytes).toBe(0);
  });

  it("treats bytes after the last newline as a torn line, even when they are valid JSON", () => {
    const good = text(meta, ctx);
    for (const tail of [JSON.stringify(user).slice(0, 25), JSON.stringify(user)]) {
      const parsed = parseTranscript(Buffer.from(good + tail), "t.jsonl");
      expect(parsed.lines).toEqual([meta, ctx]);
      expect(parsed.validBytes).toBe(Buffer.byteLength(good));
      expect(parsed.tornBytes).toBe(Buffer.byteLength(tail));
    }
  });

  it("treats trailing lines that are not JSON (power-loss garbage) as torn", () => {
    const good = text(meta, ctx);
    const garbage = "\u0000\u0000\u0000\n\u0000\u0000";
    const parsed = parseTranscript(Buffer.from(good + garbage), "t.jsonl");
    expect(parsed.lines).toEqual([meta, ctx]);
    expect(parsed.validBytes).toBe(Buffer.byteLength(good));
    expect(parsed.tornBytes).toBe(Buffer.byteLength(garbage));
  });

  it("refuses a bad line followed by good ones, naming the file and line", () => {
    const buf = Buffer.from(`${text(meta)}{"ts":2,"type":\n${text(user)}`);
    expect(failure(() => parseTranscript(buf, "/s/t.jsonl"))).toMatch(
      /transcript \/s\/t\.jsonl is corrupt at line 2: not JSON/,
    );
  });

  it("refuses JSON that breaks the schema, naming the line and field", () => {
    const bad = { ts: 3, type: "response_item", payload: { type: "message", role: "robot", content: [] } };
    const buf = Buffer.from(`${text(meta, ctx)}${JSON.stringify(bad)}\n`);
    expect(failure(() => parseTranscript(buf, "t.jsonl"))).toMatch(/corrupt at line 3: payload\.role/);
  });

  it("requires thread_meta first and refuses newer schema versions", () => {
    expect(failure(() => parseTranscript(Buffer.from(text(ctx)), "t.jsonl"))).toMatch(
      /line 1: the first line must be thread_meta/,
    );
    const future = { ...meta, payload: { ...meta.payload, schemaVersion: 99 } } as RolloutLine;
    expect(failure(() => parseTranscript(Buffer.from(text(future)), "t.jsonl"))).toMatch(
      /schema version 99, newer than this Taifeng reads \(up to 1\)/,
    );
  });

  it("returns lines as written, keeping key order that differs from the schema's", () => {
    const reordered =
      '{"payload":{"output":"ok","callId":"c1","type":"function_call_output"},"type":"response_item","ts":5}';
    const parsed = parseTranscript(Buffer.from(`${text(meta)}${reordered}\n`), "t.jsonl");
    expect(JSON.stringify(parsed.lines[1])).toBe(reordered);
  });

  it("reads an empty file as no lines", () => {
    expect(parseTranscript(Buffer.alloc(0), "t.jsonl")).toEqual({ lines: [], validBytes: 0, tornBytes: 0 });
  });
});
