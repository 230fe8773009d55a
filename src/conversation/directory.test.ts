import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSchema, ThreadDirectory } from "./directory.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "taifeng-directory-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("thread directory schema", () => {
  it("is created once when two connections both saw an empty database (the race of concurrent first use)", () => {
    const path = join(dir, "index.sqlite");
    const a = new DatabaseSync(path, { timeout: 5_000 });
    const b = new DatabaseSync(path, { timeout: 5_000 });
    // Both read version 0 before either created anything.
    for (const db of [a, b]) expect(db.prepare("PRAGMA user_version").get()).toEqual({ user_version: 0 });
    expect(createSchema(b)).toBe(true);
    expect(createSchema(a)).toBe(false); // sees b's tables inside its own write transaction
    expect(a.isTransaction).toBe(false);
    a.close();
    b.close();
    const directory = new ThreadDirectory(path, (m) => {
      throw new Error(`unexpected warning: ${m}`);
    });
    expect(directory.fresh).toBe(false);
    directory.bindSession("s", "thr_1", 1);
    expect(directory.sessionThread("s", 2)).toBe("thr_1");
    // An unreadable transcript loses its row, never its bindings; a deleted one loses both.
    directory.remove("thr_1");
    expect(directory.sessionThread("s", 3)).toBe("thr_1");
    directory.forget("thr_1");
    expect(directory.sessionThread("s", 4)).toBeUndefined();
    directory.close();
  });
});

describe("the JSONL store's directory writes", () => {
  it("groups session writes and thread rows into a few transactions, in order, without a write per event", async () => {
    const { JsonlThreadStore } = await import("./jsonl-store.ts");
    const store = new JsonlThreadStore({ dir, indexDelayMs: 50 });
    const sessions = store.sessions;
    if (!sessions) throw new Error("the store has bindings");
    // 500 sessions bound in the same tick: one transaction, not 500.
    await Promise.all(Array.from({ length: 500 }, (_, i) => sessions.bind(`s${i}`, `thr_${i}`)));
    expect(store.stats().directory?.transactions).toBeLessThanOrEqual(2);
    expect(store.stats().directory?.writes).toBe(500);
    // Writes keep their order inside a group: bound, unbound, bound again.
    const last = Promise.all([
      sessions.bind("x", "thr_a"),
      sessions.unbind("x"),
      sessions.bind("x", "thr_b"),
    ]);
    expect(await sessions.threadOf("x")).toBe("thr_b"); // a queued binding is visible at once
    await last;
    expect(await sessions.threadOf("x")).toBe("thr_b");
    await sessions.unbind("x");
    expect(await sessions.threadOf("x")).toBeUndefined();
    // 40 threads, 30 events each: the rows are written in batches, not one write per event.
    const before = store.stats().directory?.transactions ?? 0;
    const writers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        store.create({ schemaVersion: 1, threadId: `thr_w${i}`, createdAt: 1 }),
      ),
    );
    for (let e = 0; e < 30; e++) {
      for (const w of writers) {
        w.append({
          ts: 2 + e,
          type: "event",
          payload: { msg: { type: "warning", code: "w", message: `e${e}` } },
        });
      }
      if (e % 10 === 9) await Promise.all(writers.map((w) => w.flush()));
    }
    await Promise.all(writers.map((w) => w.close()));
    const rows = (await store.list()).filter((t) => t.threadId.startsWith("thr_w"));
    expect(rows).toHaveLength(40);
    const used = (store.stats().directory?.transactions ?? 0) - before;
    expect(used).toBeLessThan(20); // 1,200 events and 160 flushes of 40 threads
    // Deleting a thread drops a binding queued to it a moment before.
    const bound = sessions.bind("y", "thr_w3");
    await store.delete("thr_w3");
    await bound;
    expect(await sessions.threadOf("y")).toBeUndefined();
    await store.close();
  });
});
