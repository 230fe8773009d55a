import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isTaifengError } from "../errors.ts";
import type { RolloutLine } from "../protocol/index.ts";
import { emptyUsage, textMessage } from "../protocol/index.ts";
import { JsonlThreadStore } from "./jsonl-store.ts";
import { MemoryThreadStore } from "./memory-store.ts";
import { replayRollout } from "./replay.ts";
import type { ThreadStore } from "./store.ts";
import { forkThread, rewindThread, visibleTurnEnds } from "./thread-ops.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function jsonlStore(): JsonlThreadStore {
  const dir = mkdtempSync(join(tmpdir(), "taifeng-ops-"));
  dirs.push(dir);
  return new JsonlThreadStore({ dir });
}

function turn(n: number, open = false): RolloutLine[] {
  const lines: RolloutLine[] = [
    { ts: n, type: "turn_context", payload: { turnId: `turn_${n}` } },
    { ts: n, type: "response_item", payload: textMessage("user", `q${n}`) },
    { ts: n, type: "response_item", payload: textMessage("assistant", `a${n}`) },
  ];
  if (!open)
    lines.push({
      ts: n,
      type: "event",
      payload: { msg: { type: "turn_completed", steps: 1, usage: emptyUsage(), durationMs: 0 } },
    });
  return lines;
}

async function seed(store: ThreadStore, lines: RolloutLine[]): Promise<void> {
  const writer = await store.create({
    schemaVersion: 1,
    threadId: "src",
    createdAt: 1,
    title: "Source",
    cwd: "/w",
  });
  for (const line of lines) writer.append(line);
  await writer.close();
}

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (isTaifengError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error("expected a TaifengError");
}

describe.each([
  ["memory", () => new MemoryThreadStore() as ThreadStore],
  ["jsonl", () => jsonlStore() as ThreadStore],
])("forkThread on the %s store", (_name, makeStore) => {
  it("copies the source up to a turn, skipping rolled-back turns, with a parent link", async () => {
    const store = makeStore();
    const rollback: RolloutLine = { ts: 9, type: "rollback", payload: { turns: 1 } };
    await seed(store, [...turn(1), ...turn(2), rollback, ...turn(3), ...turn(4)]);
    const source = replayRollout(await store.read("src"));
    expect(source.turnCount).toBe(3); // turns 1, 3, 4

    const fork = await forkThread(store, "src", { atTurn: 2, threadId: "thr_fork" });
    expect(fork).toEqual({ threadId: "thr_fork", parentThreadId: "src", turns: 2 });
    const lines = await store.read("thr_fork");
    expect(lines[0]).toMatchObject({
      type: "thread_meta",
      payload: { threadId: "thr_fork", title: "Source", cwd: "/w", parent: { threadId: "src", turns: 2 } },
    });
    const forked = replayRollout(lines);
    expect(forked.turnCount).toBe(2);
    expect(JSON.stringify(forked.items)).toBe(JSON.stringify(source.items.slice(0, 4)));
    expect(forked.items.map((i) => (i.type === "message" ? i.content[0] : undefined))).toEqual([
      { type: "text", text: "q1" },
      { type: "text", text: "a1" },
      { type: "text", text: "q3" },
      { type: "text", text: "a3" },
    ]);
    const listed = await store.list({ parentThreadId: "src" });
    expect(listed.map((t) => [t.threadId, t.parentTurns])).toEqual([["thr_fork", 2]]);
    expect(replayRollout(await store.read("src")).turnCount).toBe(3); // untouched
  });

  it("forks after the last ended turn by default and refuses open or out-of-range turns", async () => {
    const store = makeStore();
    await seed(store, [...turn(1), ...turn(2), ...turn(3, true)]);
    const fork = await forkThread(store, "src");
    expect(fork.turns).toBe(2);
    expect(await failure(forkThread(store, "src", { atTurn: 3 }))).toBe(
      "invalid_op: cannot fork thread src at turn 3: that turn never ended",
    );
    expect(await failure(forkThread(store, "src", { atTurn: 4 }))).toBe(
      "invalid_op: cannot fork thread src at turn 4: choose a turn from 1 to 3",
    );
    expect(await failure(forkThread(store, "nope"))).toMatch(/^thread_not_found/);
  });
});

describe("rewindThread", () => {
  it("appends a rollback line and returns the turns left; the file keeps the old lines", async () => {
    const store = jsonlStore();
    await seed(store, [...turn(1), ...turn(2), ...turn(3)]);
    const before = await store.read("src");
    expect(await rewindThread(store, "src", 2)).toBe(1);
    const after = await store.read("src");
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.at(-1)).toMatchObject({ type: "rollback", payload: { turns: 2 } });
    expect(replayRollout(after).turnCount).toBe(1);
  });

  it("refuses to rewind past a checkpoint or while a writer holds the thread", async () => {
    const store = jsonlStore();
    const checkpoint: RolloutLine = {
      ts: 5,
      type: "compacted",
      payload: { strategy: "s", replacementHistory: [] },
    };
    await seed(store, [...turn(1), checkpoint, ...turn(2)]);
    expect(await failure(rewindThread(store, "src", 2))).toBe(
      "invalid_op: cannot rewind 2 turn(s) of thread src: 1 can be rewound",
    );
    const held = await store.open("src");
    expect(await failure(rewindThread(store, "src", 1))).toMatch(/^thread_locked/);
    await held.writer.close();
    expect(await failure(rewindThread(store, "src", 0))).toMatch(
      /^invalid_op: rewind needs a positive whole number/,
    );
  });
});

describe("visibleTurnEnds", () => {
  it("maps each visible turn to the line of its end event", () => {
    const meta: RolloutLine = {
      ts: 0,
      type: "thread_meta",
      payload: { schemaVersion: 1, threadId: "t", createdAt: 0 },
    };
    const lines = [
      meta,
      ...turn(1),
      ...turn(2),
      { ts: 9, type: "rollback", payload: { turns: 1 } } as RolloutLine,
      ...turn(3, true),
    ];
    expect(visibleTurnEnds(lines)).toEqual([4, -1]);
  });
});
