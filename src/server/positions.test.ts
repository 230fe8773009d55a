import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../conversation/jsonl-store.ts";
import { CountingStore, comparePositions, formatPosition, parsePosition } from "./positions.ts";

describe("positions", () => {
  it("parses and orders N and N.K ids, and refuses anything else", () => {
    expect(parsePosition("12")).toEqual({ line: 12, k: -1 });
    expect(parsePosition("12.3")).toEqual({ line: 12, k: 3 });
    for (const bad of ["", "x", "1.2.3", "-1", "1e3", "12.", undefined, null])
      expect(parsePosition(bad)).toBeUndefined();
    const sorted = ["3.0", "2.5", "3", "2", "10.1"].map((id) => parsePosition(id)!).sort(comparePositions);
    expect(sorted.map(formatPosition)).toEqual(["2", "2.5", "3", "3.0", "10.1"]);
  });

  it("CountingStore counts a thread's lines across create, appends and reopen, and passes the store's bindings and artifacts through", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tf-positions-"));
    const inner = new JsonlThreadStore({ dir });
    const store = new CountingStore(inner);
    try {
      expect(store.sessions).toBe(inner.sessions);
      expect(store.artifacts).toBe(inner.artifacts);
      const writer = await store.create({ schemaVersion: 1, threadId: "thr_a", createdAt: 1 });
      expect(store.lineCount("thr_a")).toBe(1);
      for (let i = 0; i < 3; i++)
        writer.append({
          ts: i,
          type: "response_item",
          payload: { type: "message", role: "user", content: [{ type: "text", text: `m${i}` }] },
        });
      expect(store.lineCount("thr_a")).toBe(4);
      await writer.close();
      expect(store.lineCount("thr_a")).toBeUndefined();
      const opened = await store.open("thr_a");
      expect(store.lineCount("thr_a")).toBe(4);
      expect((await store.read("thr_a")).length).toBe(4);
      await opened.writer.close();
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
