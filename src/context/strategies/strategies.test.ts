import { describe, expect, it } from "vitest";
import type { ResponseItem } from "../../protocol/index.ts";
import { textMessage } from "../../protocol/index.ts";
import { MemoryArtifactStore } from "../../tool/artifacts.ts";
import { TokenEstimator } from "../tokens.ts";
import { cutPoints } from "../units.ts";
import { handoffSummary } from "./handoff.ts";
import { microcompact } from "./microcompact.ts";
import { slidingWindow } from "./sliding-window.ts";
import type { CompactionContext } from "./types.ts";

const estimator = new TokenEstimator({ name: "chars", exact: false, count: (t) => t.length });
const call = (id: string, name = "read_file"): ResponseItem => ({
  type: "function_call",
  callId: id,
  name,
  arguments: "{}",
});
const out = (id: string, text: string): ResponseItem => ({
  type: "function_call_output",
  callId: id,
  output: text,
});

function ctx(items: ResponseItem[], extra: Partial<CompactionContext> = {}): CompactionContext {
  return {
    threadId: "t",
    items,
    estimator,
    targetTokens: 100,
    trigger: "pre_sampling",
    minSavingsTokens: 0,
    signal: new AbortController().signal,
    artifacts: undefined,
    summarize: async () => ({ text: "SUMMARY", usage: undefined }),
    ...extra,
  };
}

describe("cutPoints", () => {
  it("never separates a call from its output or reasoning from what follows", () => {
    const items: ResponseItem[] = [
      textMessage("user", "u"),
      { type: "reasoning", text: "r" },
      call("a"),
      call("b"),
      out("a", "x"),
      out("b", "y"),
      textMessage("assistant", "done"),
    ];
    expect(cutPoints(items)).toEqual([0, 1, 6, 7]);
  });
});

describe("microcompact", () => {
  it("stubs old large outputs, keeps the newest and small ones, saves artifacts", async () => {
    const big = (c: string) => `${c} first line\n${"z".repeat(2000)}`;
    const items: ResponseItem[] = [
      textMessage("user", "go"),
      call("1"),
      out("1", big("one")),
      call("2"),
      out("2", "small"),
      call("3"),
      out("3", big("three")),
      call("4"),
      out("4", big("four")),
    ];
    const artifacts = new MemoryArtifactStore();
    const result = await microcompact({ keepRecent: 1, minTokens: 100, headChars: 14 }).compact(
      ctx(items, { artifacts }),
    );
    expect(result).toBeDefined();
    const next = result?.items ?? [];
    expect(next).toHaveLength(items.length);
    expect(next[2]).toMatchObject({ type: "function_call_output", callId: "1" });
    const stub = (next[2] as { output: string }).output;
    expect(stub).toMatch(
      /^\[output trimmed: read_file returned \d+ tokens; the full output is artifact art_\w+ \(read it with read_artifact\)\]\none first line\n\.\.\.$/,
    );
    const id = /artifact (art_\w+)/.exec(stub)?.[1] as string;
    expect(await artifacts.read("t", id)).toBe(big("one"));
    expect(next[4]).toBe(items[4]); // small: untouched
    expect((next[6] as { output: string }).output).toContain("[output trimmed");
    expect(next[8]).toBe(items[8]); // newest: untouched
    expect(next.slice(0, 2)).toEqual(items.slice(0, 2));
    // a second pass finds nothing more to do
    expect(await microcompact({ keepRecent: 1, minTokens: 100 }).compact(ctx(next))).toBeUndefined();
    // and a pass that would save less than asked does nothing
    expect(
      await microcompact({ keepRecent: 1, minTokens: 100 }).compact(ctx(items, { minSavingsTokens: 10_000 })),
    ).toBeUndefined();
  });
});

describe("slidingWindow", () => {
  it("drops the oldest whole units until the history fits, leaving a note", async () => {
    const items: ResponseItem[] = [
      textMessage("user", "a".repeat(60)),
      call("1"),
      out("1", "b".repeat(60)),
      textMessage("user", "c".repeat(60)),
      textMessage("assistant", "d".repeat(20)),
    ];
    const result = await slidingWindow().compact(ctx(items, { targetTokens: 100 }));
    expect(result?.items).toEqual([
      textMessage("system", "[3 earlier items were dropped to fit the context window]"),
      items[3],
      items[4],
    ]);
  });
});

describe("handoffSummary", () => {
  it("summarizes everything before the current request and keeps recent user messages verbatim", async () => {
    const items: ResponseItem[] = [
      textMessage("user", "first request"),
      call("1"),
      out("1", "x".repeat(500)),
      textMessage("assistant", "did it"),
      textMessage("user", "second request"),
      textMessage("assistant", "ok"),
      textMessage("user", "current request"),
      call("2"),
      out("2", "y"),
    ];
    const seen: ResponseItem[][] = [];
    const result = await handoffSummary({ keepUserTokens: 20 }).compact(
      ctx(items, {
        targetTokens: 1000,
        summarize: async (head, instructions) => {
          seen.push([...head]);
          expect(instructions).toContain("NOTE:");
          return {
            text: "S",
            usage: {
              inputTokens: 9,
              cachedInputTokens: 8,
              cacheWriteTokens: 0,
              outputTokens: 1,
              reasoningTokens: 0,
            },
          };
        },
      }),
    );
    expect(seen[0]).toEqual(items.slice(0, 6));
    expect(result?.items).toEqual([
      { type: "compaction", summary: "S", replacedItems: 6 },
      items[4], // "second request" (18 tokens) fits the 20-token budget; "first request" does not
      ...items.slice(6),
    ]);
    expect(result?.usage?.cachedInputTokens).toBe(8);
  });

  it("does nothing when there is nothing before the current request", async () => {
    const items = [textMessage("user", "only")];
    expect(await handoffSummary().compact(ctx(items))).toBeUndefined();
  });
});
