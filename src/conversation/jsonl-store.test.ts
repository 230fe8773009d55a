import {
  appendFileSync,
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isTaifengError } from "../errors.ts";
import type { RolloutLine } from "../protocol/index.ts";
import { ThreadTracker } from "./checkpoint.ts";
import { FdBudget } from "./fd-budget.ts";
import { type JsonlStoreOptions, JsonlThreadStore } from "./jsonl-store.ts";
import { JsonlWriter } from "./jsonl-writer.ts";
import type { HeldLock } from "./lock-file.ts";
import type { ThreadMeta } from "./store.ts";

let dir: string;
let stores: JsonlThreadStore[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "taifeng-jsonl-"));
});
afterEach(async () => {
  for (const store of stores) await store.close().catch(() => {});
  stores = [];
  rmSync(dir, { recursive: true, force: true });
});

function makeStore(options: Partial<JsonlStoreOptions> = {}): JsonlThreadStore {
  const store = new JsonlThreadStore({ dir, ...options });
  stores.push(store);
  return store;
}

const meta = (threadId: string, extra: Partial<ThreadMeta> = {}): ThreadMeta => ({
  schemaVersion: 1,
  threadId,
  createdAt: 1_000,
  ...extra,
});

function turnLines(n: number, text = `question ${n}`): RolloutLine[] {
  return [
    { ts: 1_000 + n, type: "turn_context", payload: { turnId: `turn_${n}`, model: "sim:x" } },
    {
      ts: 1_000 + n,
      type: "response_item",
      payload: { type: "message", role: "user", content: [{ type: "text", text }] },
    },
    {
      ts: 1_000 + n,
      type: "event",
      payload: {
        msg: {
          type: "turn_completed",
          steps: 1,
          usage: {
            inputTokens: 10,
            cachedInputTokens: 4,
            cacheWriteTokens: 0,
            outputTokens: 2,
            reasoningTokens: 0,
          },
          durationMs: 1,
        },
      },
    },
  ];
}

const fileText = (threadId: string) => readFileSync(join(dir, `${threadId}.jsonl`), "utf8");
const fileLines = (threadId: string) => fileText(threadId).trimEnd().split("\n");

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (isTaifengError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error("expected a TaifengError");
}

describe("JsonlThreadStore", () => {
  it("writes one JSON line per appended line and reads them back verbatim", async () => {
    const store = makeStore();
    const writer = await store.create(meta("thr_a", { title: "Trip" }));
    for (const line of turnLines(1)) writer.append(line);
    await writer.close();
    const lines = await store.read("thr_a");
    expect(lines.map((l) => JSON.stringify(l))).toEqual(fileLines("thr_a"));
    expect(lines[0]).toEqual({ ts: 1_000, type: "thread_meta", payload: meta("thr_a", { title: "Trip" }) });
    expect(lines.slice(1)).toEqual(turnLines(1));
  });

  it("batches appends until a flush under durability turn", async () => {
    const store = makeStore({ batchDelayMs: 60_000 });
    const writer = await store.create(meta("thr_a"));
    for (const line of turnLines(1)) writer.append(line);
    await new Promise((r) => setTimeout(r, 20));
    expect(fileLines("thr_a")).toHaveLength(1);
    await writer.flush();
    expect(fileLines("thr_a")).toHaveLength(4);
  });

  it("writes in the background after batchDelayMs without a flush", async () => {
    const store = makeStore({ batchDelayMs: 5 });
    const writer = await store.create(meta("thr_a"));
    for (const line of turnLines(1)) writer.append(line);
    await new Promise((r) => setTimeout(r, 60));
    expect(fileLines("thr_a")).toHaveLength(4);
  });

  it("under durability item commits every batch on its own, sharing one sync per batch", async () => {
    const commits: number[] = [];
    const store = makeStore({
      durability: "item",
      batchDelayMs: 60_000,
      onCommitted: (c) => commits.push(c.lines),
    });
    const writer = await store.create(meta("thr_a"));
    for (const line of turnLines(1)) writer.append(line);
    // No flush: the batch is committed on its own (the first one also starts the log segment).
    for (let i = 0; i < 500 && commits.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(fileLines("thr_a")).toHaveLength(4);
    expect(commits).toEqual([4]);
    writer.append(turnLines(2)[0] as RolloutLine);
    await writer.flush();
    expect(commits).toEqual([4, 5]);
  });

  it("reports committed lines at every flush under durability turn", async () => {
    const commits: { lines: number; bytes: number }[] = [];
    const store = makeStore({ onCommitted: (c) => commits.push({ lines: c.lines, bytes: c.bytes }) });
    const writer = await store.create(meta("thr_a"));
    for (const line of turnLines(1)) writer.append(line);
    await writer.flush();
    await writer.flush();
    expect(commits).toEqual([{ lines: 4, bytes: statSync(join(dir, "thr_a.jsonl")).size }]);
  });

  it("refuses a second writer in the process and in another store instance", async () => {
    const store = makeStore();
    const writer = await store.create(meta("thr_a"));
    expect(await code(store.open("thr_a"))).toMatch(
      /^thread_locked: thread thr_a is already open for writing in this process/,
    );
    expect(await code(makeStore().open("thr_a"))).toMatch(
      /^thread_locked: thread thr_a is locked for writing by process/,
    );
    await writer.close();
    const again = await makeStore().open("thr_a");
    expect(again.lines).toHaveLength(1);
    await again.writer.close();
  });

  it("lets readers read while a writer holds the thread", async () => {
    const store = makeStore();
    const writer = await store.create(meta("thr_a"));
    for (const line of turnLines(1)) writer.append(line);
    await writer.flush();
    expect(await makeStore().read("thr_a")).toHaveLength(4);
  });

  it("truncates a torn last line on open and reports it; read leaves the file alone", async () => {
    const store = makeStore();
    const writer = await store.create(meta("thr_a"));
    for (const line of turnLines(1)) writer.append(line);
    await writer.close();
    const clean = fileText("thr_a");
    appendFileSync(join(dir, "thr_a.jsonl"), '{"ts":5,"type":"response_item","payload":{"type":"mess');
    expect(await store.read("thr_a")).toHaveLength(4);
    expect(fileText("thr_a")).not.toBe(clean);
    const opened = await store.open("thr_a");
    expect(opened.warnings).toEqual([
      expect.stringMatching(/ended with 54 bytes of an incomplete line .*; they were removed$/),
    ]);
    expect(fileText("thr_a")).toBe(clean);
    opened.writer.append(turnLines(2)[0] as RolloutLine);
    await opened.writer.close();
    expect(fileLines("thr_a")).toHaveLength(5);
  });

  it("refuses corrupt transcripts without touching them", async () => {
    const store = makeStore();
    await (await store.create(meta("thr_a"))).close();
    appendFileSync(join(dir, "thr_a.jsonl"), "not json\n{}\n");
    const before = fileText("thr_a");
    expect(await code(store.open("thr_a"))).toMatch(
      /^store_error: transcript .*thr_a\.jsonl is corrupt at line 2/,
    );
    expect(fileText("thr_a")).toBe(before);
    const retry = await code(store.open("thr_a"));
    expect(retry).toMatch(/corrupt at line 2/); // the lock was released
  });

  it("names unknown, duplicate and malformed thread ids", async () => {
    const store = makeStore();
    expect(await code(store.open("thr_missing"))).toMatch(/^thread_not_found: no thread thr_missing in /);
    expect(await code(store.read("thr_missing"))).toMatch(/^thread_not_found/);
    expect(await code(store.create(meta("../evil")))).toMatch(/^store_error: invalid thread id "\.\.\/evil"/);
    await (await store.create(meta("thr_a"))).close();
    expect(await code(store.create(meta("thr_a")))).toMatch(/^store_error: thread thr_a already exists/);
    expect(await store.exists("thr_a")).toBe(true);
    expect(await store.exists("thr_b")).toBe(false);
  });

  it("deletes a thread and its directory row, but not while it is open", async () => {
    const store = makeStore();
    const writer = await store.create(meta("thr_a"));
    expect(await code(store.delete("thr_a"))).toMatch(/^thread_locked/);
    await writer.close();
    await store.delete("thr_a");
    expect(await store.exists("thr_a")).toBe(false);
    expect(await store.list()).toEqual([]);
  });

  it("close flushes every writer and releases its lock", async () => {
    const store = makeStore({ batchDelayMs: 60_000 });
    const writer = await store.create(meta("thr_a"));
    for (const line of turnLines(1)) writer.append(line);
    await store.close();
    expect(fileLines("thr_a")).toHaveLength(4);
    const opened = await makeStore().open("thr_a");
    await opened.writer.close();
  });
});

describe("thread directory", () => {
  it("keeps rows current as writers flush, with turns, usage, status and derived titles", async () => {
    const store = makeStore();
    const writer = await store.create(meta("thr_a"));
    for (const line of [...turnLines(1, "Plan a trip to Lyon\nwith details"), ...turnLines(2)])
      writer.append(line);
    await writer.flush();
    expect(await store.list()).toEqual([
      {
        threadId: "thr_a",
        title: "Plan a trip to Lyon",
        createdAt: 1_000,
        updatedAt: 1_002,
        turns: 2,
        status: "idle",
        usage: {
          inputTokens: 20,
          cachedInputTokens: 8,
          cacheWriteTokens: 0,
          outputTokens: 4,
          reasoningTokens: 0,
        },
        parentThreadId: undefined,
        parentTurns: undefined,
      },
    ]);
    writer.append(turnLines(3)[0] as RolloutLine);
    await writer.flush();
    expect((await store.info("thr_a"))?.status).toBe("running");
    await writer.close();
  });

  it("searches titles (case-insensitive, LIKE wildcards taken literally) and filters forks", async () => {
    const store = makeStore();
    await (await store.create(meta("thr_a", { title: "Budget 100% review" }))).close();
    await (
      await store.create(meta("thr_b", { title: "budget_draft", parent: { threadId: "thr_a", turns: 0 } }))
    ).close();
    await (await store.create(meta("thr_c", { title: "Other" }))).close();
    const ids = async (q: Parameters<JsonlThreadStore["list"]>[0]) =>
      (await store.list(q)).map((t) => t.threadId).sort();
    expect(await ids({ search: "BUDGET" })).toEqual(["thr_a", "thr_b"]);
    expect(await ids({ search: "100%" })).toEqual(["thr_a"]);
    expect(await ids({ search: "t_d" })).toEqual(["thr_b"]);
    expect(await ids({ search: "%" })).toEqual(["thr_a"]);
    expect(await ids({ parentThreadId: "thr_a" })).toEqual(["thr_b"]);
    expect(await store.list({ limit: 1 })).toHaveLength(1);
  });

  it("picks up transcripts written elsewhere and forgets deleted files", async () => {
    const store = makeStore();
    await (await store.create(meta("thr_a"))).close();
    expect((await store.list()).map((t) => t.threadId)).toEqual(["thr_a"]);
    copyFileSync(join(dir, "thr_a.jsonl"), join(dir, "thr_copy.jsonl"));
    writeFileSync(
      join(dir, "thr_copy.jsonl"),
      `${JSON.stringify({ ts: 1, type: "thread_meta", payload: meta("thr_copy") })}\n${turnLines(1)
        .map((l) => JSON.stringify(l))
        .join("\n")}\n`,
    );
    rmSync(join(dir, "thr_a.jsonl"));
    expect(await store.list()).toEqual([expect.objectContaining({ threadId: "thr_copy", turns: 1 })]);
  });

  it("rebuilds a corrupt index from the transcripts, with a warning", async () => {
    const first = makeStore();
    const writer = await first.create(meta("thr_a"));
    for (const line of turnLines(1)) writer.append(line);
    await writer.close();
    const before = await first.list();
    await first.close();
    writeFileSync(join(dir, "index.sqlite"), "this is not a database at all".repeat(100));
    rmSync(join(dir, "index.sqlite-wal"), { force: true });
    rmSync(join(dir, "index.sqlite-shm"), { force: true });
    const warnings: string[] = [];
    const second = makeStore({ onWarning: (m) => warnings.push(m) });
    expect(await second.list()).toEqual(before);
    expect(warnings).toEqual([
      expect.stringMatching(/index\.sqlite is unreadable .*; rebuilding it from the transcripts/),
    ]);
  });

  it("rebuildIndex re-reads every transcript and reports the unreadable ones", async () => {
    const store = makeStore();
    await (await store.create(meta("thr_a"))).close();
    await (await store.create(meta("thr_b"))).close();
    writeFileSync(join(dir, "thr_bad.jsonl"), "{oops\n{}\n");
    const report = await store.rebuildIndex();
    expect(report.threads).toBe(2);
    expect(report.reindexed).toBe(2);
    expect(report.skipped).toEqual([
      { threadId: "thr_bad", error: expect.stringMatching(/corrupt at line 1/) },
    ]);
  });
});

describe("JsonlWriter failures", () => {
  /** A writer whose descriptor is the one the budget already holds for `path` (opened with `flags`). */
  async function writerOn(path: string, flags: string, offset: number): Promise<JsonlWriter> {
    const lock: HeldLock = {
      path: `${path}.lock`,
      owner: {} as HeldLock["owner"],
      tookOver: false,
      release: async () => {},
    };
    const budget = new FdBudget({ maxOpen: 4, waitMs: 1_000 });
    await budget.withFd(path, () => {}, flags);
    return new JsonlWriter({
      threadId: "thr_ro",
      path,
      budget,
      wal: undefined,
      firstLine: undefined,
      offset,
      lines: 1,
      durability: "turn",
      batchDelayMs: 60_000,
      maxBatchBytes: 1 << 20,
      lock,
      tracker: ThreadTracker.fresh(meta("thr_ro"), 1_000),
      onFlushed: () => {},
      onCommitted: undefined,
      onClosed: () => {},
    });
  }

  it("rejects the flush with the path and errno, keeps the file whole and the lines queued", async () => {
    const path = join(dir, "thr_ro.jsonl");
    const head = `${JSON.stringify({ ts: 1, type: "thread_meta", payload: meta("thr_ro") })}\n`;
    writeFileSync(path, head);
    // a real descriptor the OS refuses to write to
    const writer = await writerOn(path, "r", head.length);
    for (const line of turnLines(1)) writer.append(line);
    const message = await code(writer.flush());
    expect(message).toMatch(/^store_error: appending to transcript .*thr_ro\.jsonl failed \(EBADF\)/);
    expect(message).toMatch(/still ends with its last complete line \(\d+ bytes\)/);
    expect(readFileSync(path, "utf8")).toBe(head);
    expect(writer.error).toBeDefined();
    expect(await code(writer.flush())).toMatch(/EBADF/); // retried, still failing
    await expect(writer.close()).rejects.toThrow(/EBADF/);
  });

  it("stops writing for good once fsync failed", async () => {
    // fdatasync on /dev/null fails with EINVAL: a real failing sync, as a dying disk gives EIO.
    const writer = await writerOn("/dev/null", "r+", 0);
    for (const line of turnLines(1)) writer.append(line);
    expect(await code(writer.flush())).toMatch(
      /^store_error: syncing transcript \/dev\/null failed \(EINVAL\): .*accepts no more writes until it is opened again/,
    );
    expect(await code(writer.flush())).toMatch(/accepts no more writes/);
    await expect(writer.close()).rejects.toThrow(/accepts no more writes/);
  });
});
