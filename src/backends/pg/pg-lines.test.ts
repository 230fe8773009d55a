import { describe, expect, it } from "vitest";
import { parseStoredLines } from "./pg-lines.ts";

const meta = JSON.stringify({
  ts: 1,
  type: "thread_meta",
  payload: { schemaVersion: 1, threadId: "t", createdAt: 1 },
});
const ctx = (n: number) => JSON.stringify({ ts: n, type: "turn_context", payload: { turnId: `turn_${n}` } });

describe("parseStoredLines", () => {
  it("splits rows of newline-joined lines, in order, keeping each line as written", () => {
    const lines = parseStoredLines([meta, `${ctx(2)}\n${ctx(3)}`, ctx(4)], "t");
    expect(lines.map((l) => l.ts)).toEqual([1, 2, 3, 4]);
    expect(JSON.stringify(lines[1])).toBe(ctx(2));
  });

  it("names the line that is not JSON or breaks the schema", () => {
    expect(() => parseStoredLines([meta, `${ctx(2)}\n{oops`], "t")).toThrow(/corrupt at line 3: not JSON/);
    expect(() =>
      parseStoredLines([meta, JSON.stringify({ ts: 2, type: "turn_context", payload: {} })], "t"),
    ).toThrow(/corrupt at line 2: payload/);
  });

  it("needs thread_meta first, of a schema version it reads; a tail (fromStart: false) needs neither", () => {
    expect(() => parseStoredLines([ctx(2)], "t")).toThrow(/first line must be thread_meta/);
    const newer = JSON.stringify({
      ts: 1,
      type: "thread_meta",
      payload: { schemaVersion: 99, threadId: "t", createdAt: 1 },
    });
    expect(() => parseStoredLines([newer], "t")).toThrow(/schema version 99/);
    expect(parseStoredLines([ctx(2), ctx(3)], "t", { fromStart: false })).toHaveLength(2);
    expect(() => parseStoredLines([], "t")).toThrow(/no thread t/);
    expect(parseStoredLines([], "t", { fromStart: false })).toEqual([]);
  });
});
