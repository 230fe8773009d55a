import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RolloutLine } from "../protocol/index.ts";
import { type JsonlStoreOptions, JsonlThreadStore } from "./jsonl-store.ts";
import type { ThreadMeta } from "./store.ts";
import { encodeRecord } from "./wal-format.ts";

let dir: string;
let stores: JsonlThreadStore[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "taifeng-wal-"));
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

const meta = (threadId: string): ThreadMeta => ({ schemaVersion: 1, threadId, createdAt: 1_000 });
const line = (threadId: string, text: string): RolloutLine => ({
  ts: 2_000,
  type: "response_item",
  payload: { type: "message", role: "user", content: [{ type: "text", text: `${threadId}: ${text}` }] },
});
const segments = () =>
  existsSync(join(dir, "wal")) ? readdirSync(join(dir, "wal")).filter((n) => n.endsWith(".wal")) : [];
const jsonl = (value: unknown) => `${JSON.stringify(value)}\n`;

describe("group commit through the write-ahead log", () => {
  it("acknowledges the turns of 100 threads ending together with a handful of fsyncs", async () => {
    const commits: string[] = [];
    const store = makeStore({ onCommitted: (c) => commits.push(c.threadId) });
    const writers = await Promise.all(Array.from({ length: 100 }, (_, i) => store.create(meta(`thr_${i}`))));
    for (const w of writers) w.append(line(w.threadId, "hello"));
    await Promise.all(writers.map((w) => w.flush()));
    const stats = store.stats();
    expect(stats.wal?.records).toBe(100);
    expect(stats.wal?.syncs).toBeLessThanOrEqual(3);
    expect(stats.transcriptSyncs).toBe(0); // no transcript was fsynced on the turn's path
    expect(new Set(commits).size).toBe(100);
    expect(segments()).toHaveLength(1);
    // Every transcript already holds its lines: readers never depend on the log.
    expect(readFileSync(join(dir, "thr_42.jsonl"), "utf8")).toBe(
      jsonl({ ts: 1_000, type: "thread_meta", payload: meta("thr_42") }) + jsonl(line("thr_42", "hello")),
    );
    await store.close();
    // Closing made each transcript durable in place (in groups: one syncfs, or an fdatasync
    // each where syncfs is unusable, plus the directory), so the log was retired.
    const closed = store.stats();
    expect(closed.releases?.threads).toBe(100);
    expect(closed.transcriptSyncs).toBeGreaterThanOrEqual(2 * (closed.releases?.groups ?? 0));
    expect(segments()).toEqual([]);
  });

  it("retires a full segment by fsyncing the transcripts it covers", async () => {
    const store = makeStore({ walCheckpointBytes: 1 });
    const writer = await store.create(meta("thr_a"));
    writer.append(line("thr_a", "one"));
    await writer.flush();
    writer.append(line("thr_a", "two"));
    await writer.flush();
    for (let i = 0; i < 100 && (store.stats().wal?.checkpoints ?? 0) < 2; i++)
      await new Promise((r) => setTimeout(r, 5));
    expect(store.stats().wal?.checkpoints).toBe(2);
    expect(store.stats().wal?.checkpointSyncs).toBeGreaterThanOrEqual(2);
    expect(segments()).toEqual([]);
  });
});

describe("replaying the log of a dead process", () => {
  /** Leaves a log as a process killed mid-work would, owned by a pid that is gone. */
  function deadProcessLog(records: Buffer[]): string {
    const dead = spawnSync(process.execPath, ["-e", ""]).pid as number;
    const owner = `${dead}.0badc0de`;
    mkdirSync(join(dir, "wal"), { recursive: true });
    writeFileSync(
      join(dir, "wal", `${owner}.lock`),
      JSON.stringify({ pid: dead, host: hostname(), token: "t", since: 1 }),
    );
    // A batch cut by the crash (never acknowledged) follows the last whole record.
    const torn = encodeRecord({ kind: "write", threadId: "thr_a", offset: 999, data: Buffer.from("lost\n") });
    writeFileSync(join(dir, "wal", `${owner}-000001.wal`), Buffer.concat([...records, torn.subarray(0, 12)]));
    return owner;
  }

  it("restores acknowledged bytes a power loss took, and never brings back a deleted or released thread", async () => {
    const head = (id: string) => Buffer.from(jsonl({ ts: 1_000, type: "thread_meta", payload: meta(id) }));
    const more = (id: string) => Buffer.from(jsonl(line(id, "acknowledged")));
    const write = (threadId: string, offset: number, data: Buffer) =>
      encodeRecord({ kind: "write", threadId, offset, data });
    deadProcessLog([
      write("thr_a", 0, head("thr_a")), // created, then lost entirely (its directory entry was never synced)
      write("thr_b", 0, head("thr_b")),
      write("thr_a", head("thr_a").length, more("thr_a")),
      write("thr_b", head("thr_b").length, more("thr_b")), // thr_b: the file lost this line
      write("thr_c", 0, head("thr_c")),
      encodeRecord({ kind: "delete", threadId: "thr_c" }),
      write("thr_d", 0, head("thr_d")),
      encodeRecord({ kind: "release", threadId: "thr_d" }),
    ]);
    writeFileSync(join(dir, "thr_b.jsonl"), head("thr_b"));
    writeFileSync(join(dir, "thr_d.jsonl"), jsonl({ ts: 5, type: "thread_meta", payload: meta("thr_d") })); // written later by another process
    const warnings: string[] = [];
    const store = makeStore({ onWarning: (m) => warnings.push(m) });
    const listed = (await store.list()).map((t) => t.threadId).sort();
    expect(listed).toEqual(["thr_a", "thr_b", "thr_d"]);
    expect(readFileSync(join(dir, "thr_a.jsonl"))).toEqual(Buffer.concat([head("thr_a"), more("thr_a")]));
    expect(readFileSync(join(dir, "thr_b.jsonl"))).toEqual(Buffer.concat([head("thr_b"), more("thr_b")]));
    expect(readFileSync(join(dir, "thr_d.jsonl"), "utf8")).toContain('"ts":5'); // untouched
    expect(existsSync(join(dir, "thr_c.jsonl"))).toBe(false);
    expect(warnings).toEqual([expect.stringMatching(/2 transcript\(s\) restored \(thr_a, thr_b\)/)]);
    expect(readdirSync(join(dir, "wal"))).toEqual([]); // segment and its lock removed
  });

  it("leaves the log of a live process alone", async () => {
    const writer = await makeStore().create(meta("thr_live"));
    writer.append(line("thr_live", "hi"));
    await writer.flush();
    expect(segments()).toHaveLength(1);
    const other = makeStore();
    await other.list();
    expect(segments()).toHaveLength(1); // its owner (this process) is alive
    await writer.close();
  });
});
