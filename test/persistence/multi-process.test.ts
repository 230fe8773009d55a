import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { danglingCalls } from "../../src/conversation/replay.ts";
import { isTaifengError } from "../../src/errors.ts";
import { type RunningChild, readAfterCrash, startChild, turnHash } from "./child-process.ts";

let dir: string;
let running: RunningChild[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "taifeng-mp-"));
});
afterEach(() => {
  for (const child of running) child.process.kill("SIGKILL");
  running = [];
  rmSync(dir, { recursive: true, force: true });
});

function start(...args: Parameters<typeof startChild>): RunningChild {
  const child = startChild(...args);
  running.push(child);
  return child;
}

describe("two processes and one thread", () => {
  it("gives the thread to one writer; the other gets a clear error and nothing interleaves", async () => {
    const config = { dir, threadId: "thr_shared", startTurn: 1, turns: 5, hold: true };
    const a = start({ ...config });
    const b = start({ ...config, startTurn: 1_000 });
    const [first] = await Promise.any([
      a.waitFor("holding").then(() => [a, b] as const),
      b.waitFor("holding").then(() => [b, a] as const),
    ]);
    const second = first === a ? b : a;
    expect(await second.exited).toBe(3);
    const error = second.messages.find((m) => m.type === "error");
    expect(error).toMatchObject({ code: "thread_locked" });
    expect(error?.type === "error" && error.message).toMatch(
      new RegExp(
        `thread thr_shared is locked for writing by process ${first.process.pid} on .* since .*lock file .*thr_shared\\.lock`,
      ),
    );

    // A reader in another process sees the holder's turns, complete.
    const reader = new JsonlThreadStore({ dir });
    const lines = await reader.read("thr_shared");
    expect(lines.filter((l) => l.type === "turn_context")).toHaveLength(5);
    await expect(reader.open("thr_shared")).rejects.toSatisfy((e: unknown) =>
      isTaifengError(e, "thread_locked"),
    );

    first.process.kill("SIGKILL");
    await first.exited;
    const after = readAfterCrash(join(dir, "thr_shared.jsonl"));
    const acks = first.messages.filter((m) => m.type === "ack");
    expect(acks).toHaveLength(5);
    for (const ack of acks) expect(turnHash(after.replay, ack.turnId)).toBe(ack.hash);
    expect(after.replay.turns.map((t) => t.turnId)).toEqual(acks.map((a) => a.turnId));

    // The holder died without releasing its lock: the next process takes the stale lock over.
    const next = start({ ...config, startTurn: 2_000, turns: 1, hold: false });
    expect(await next.exited, next.stderr()).toBe(0);
    expect(next.messages[0]).toMatchObject({ type: "opened", resumed: true, turns: 5 });
    await reader.close();
  }, 60_000); // four child processes: on a loaded 2-core machine each start takes seconds
});

describe("a full disk", () => {
  it("fails the turn with the errno and leaves a valid file holding every acknowledged turn", async () => {
    // RLIMIT_FSIZE makes write(2) fail with EFBIG past 20 x 512 bytes, like a full disk does
    // with ENOSPC; SIGXFSZ is ignored so the process sees the error instead of dying.
    const child = start(
      { dir, threadId: "thr_full", startTurn: 1, turns: null },
      "trap '' XFSZ; ulimit -f 20;",
    );
    expect(await child.exited).toBe(4);
    const failed = child.messages.find((m) => m.type === "turn_end");
    expect(failed).toMatchObject({ type: "turn_end", end: "turn_failed" });
    expect(failed?.type === "turn_end" && failed.error).toMatch(
      /^the transcript could not be written: appending to transcript .*thr_full\.jsonl failed \(EFBIG\)/,
    );
    const path = join(dir, "thr_full.jsonl");
    expect(statSync(path).size).toBeLessThanOrEqual(20 * 512);
    const after = readAfterCrash(path);
    expect(after.tornBytes).toBe(0);
    expect(readFileSync(path, "utf8").endsWith("\n")).toBe(true);
    const acks = child.messages.filter((m) => m.type === "ack");
    expect(acks.length).toBeGreaterThan(2);
    for (const ack of acks) expect(turnHash(after.replay, ack.turnId)).toBe(ack.hash);

    // With room again, the thread resumes where its transcript ends.
    const resumed = start({ dir, threadId: "thr_full", startTurn: 100, turns: 1 });
    expect(await resumed.exited, resumed.stderr()).toBe(0);
    expect(resumed.messages[0]).toMatchObject({
      type: "opened",
      resumed: true,
      turns: acks.length,
      dangling: 0,
    });
    const final = readAfterCrash(path);
    expect(final.replay.turns).toHaveLength(acks.length + 1);
    expect(danglingCalls(final.replay.items)).toEqual([]);
  }, 60_000); // four child processes: on a loaded 2-core machine each start takes seconds
});
