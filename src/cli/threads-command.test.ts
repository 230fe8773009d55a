import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ThreadInfo } from "../conversation/summary.ts";
import type { Event } from "../protocol/index.ts";
import type { CliIO } from "./io.ts";
import { main } from "./program.ts";
import { defaultStorageDir } from "./threads-command.ts";

let dir: string;
let storage: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "taifeng-cli-"));
  storage = join(dir, "threads");
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => (out += d));
  stderr.on("data", (d) => (err += d));
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean };
  stdin.isTTY = true;
  const io: CliIO = { stdin, stdout, stderr, env: { HOME: dir }, cwd: dir, onInterrupt: () => () => {} };
  const code = await main(argv, io);
  return { code, out, err };
}

const script = () => {
  const path = join(dir, "script.json");
  writeFileSync(
    path,
    JSON.stringify({ steps: [{ text: "Hello from the script." }], onExhausted: "repeat_last" }),
  );
  return `sim:${path}`;
};

const events = (out: string) =>
  out
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as Event);

describe("taifeng run with storage", () => {
  it("persists the thread and continues it with --thread; events carry threadId", async () => {
    const model = script();
    const first = await cli("run", "Plan my week", "--model", model, "--storage", storage, "--json");
    expect(first.code).toBe(0);
    const firstEvents = events(first.out);
    const threadId = firstEvents[0]?.threadId as string;
    expect(threadId).toMatch(/^thr_/);
    expect(firstEvents.every((e) => e.threadId === threadId)).toBe(true);

    const second = await cli(
      "run",
      "And the next one?",
      "--model",
      model,
      "--storage",
      storage,
      "--thread",
      threadId,
    );
    expect(second.code).toBe(0);
    expect(second.out).toBe("Hello from the script.\n");
    expect(second.err).toContain(`thread ${threadId} (continue with --thread ${threadId})`);

    const ls = await cli("threads", "ls", "--storage", storage, "--json");
    expect(JSON.parse(ls.out)).toEqual([
      expect.objectContaining({ threadId, title: "Plan my week", turns: 2, status: "idle" }),
    ]);
  });

  it("refuses an unknown --thread without creating it", async () => {
    const res = await cli("run", "hi", "--model", script(), "--storage", storage, "--thread", "thr_nope");
    expect(res.code).toBe(2);
    expect(res.err).toBe(`taifeng: no thread thr_nope in ${storage} (taifeng threads ls lists them)\n`);
  });

  it("defaults to ~/.taifeng/threads, or $TAIFENG_STORAGE", async () => {
    expect(defaultStorageDir({ HOME: "/home/u" })).toBe("/home/u/.taifeng/threads");
    expect(defaultStorageDir({ HOME: "/home/u", TAIFENG_STORAGE: "/data/t" })).toBe("/data/t");
    const res = await cli("run", "hi", "--model", script(), "--json");
    const threadId = events(res.out)[0]?.threadId as string;
    expect(readFileSync(join(dir, ".taifeng", "threads", `${threadId}.jsonl`), "utf8")).toContain(
      '"thread_meta"',
    );
  });
});

describe("taifeng threads", () => {
  async function seeded(turns: number): Promise<string> {
    const model = script();
    const first = await cli("run", "Design a cache", "--model", model, "--storage", storage, "--json");
    const threadId = events(first.out)[0]?.threadId as string;
    for (let i = 1; i < turns; i++)
      await cli("run", `step ${i}`, "--model", model, "--storage", storage, "--thread", threadId);
    return threadId;
  }

  it("ls prints a table and searches titles", async () => {
    const threadId = await seeded(1);
    const ls = await cli("threads", "ls", "--storage", storage);
    const [head, row] = ls.out.trimEnd().split("\n");
    expect(head).toMatch(/^THREAD\s+STATUS\s+TURNS\s+UPDATED \(UTC\)\s+TOKENS IN\/OUT\s+TITLE$/);
    expect(row).toMatch(
      new RegExp(
        `^${threadId}\\s+idle\\s+1\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+\\d+/\\d+\\s+Design a cache$`,
      ),
    );
    expect((await cli("threads", "ls", "--storage", storage, "--search", "nothing")).out).toBe(
      "no threads\n",
    );
    expect((await cli("threads", "ls", "--storage", storage, "--search", "CACHE", "--json")).out).toContain(
      threadId,
    );
  });

  it("show prints the history by turn, or JSON", async () => {
    const threadId = await seeded(2);
    const show = await cli("threads", "show", threadId, "--storage", storage);
    expect(show.code).toBe(0);
    const lines = show.out.split("\n");
    expect(lines[0]).toBe(`thread   ${threadId}  Design a cache`);
    expect(lines.filter((l) => l.startsWith("── turn"))).toEqual([
      expect.stringMatching(/^── turn 1 · completed · sim:.*script\.json · turn_/),
      expect.stringMatching(/^── turn 2 · completed · sim:.*script\.json · turn_/),
    ]);
    expect(show.out).toContain("  user: Design a cache\n  assistant: Hello from the script.\n");
    const asJson = JSON.parse((await cli("threads", "show", threadId, "--storage", storage, "--json")).out);
    expect(asJson.thread).toMatchObject({ threadId, turns: 2 });
    expect(asJson.items).toHaveLength(4);
    expect(asJson.turns.map((t: { outcome: string }) => t.outcome)).toEqual(["completed", "completed"]);
  });

  it("rewind and fork change what show and ls report", async () => {
    const threadId = await seeded(3);
    const rewind = await cli("threads", "rewind", threadId, "1", "--storage", storage, "--json");
    expect(JSON.parse(rewind.out)).toEqual({ threadId, rewound: 1, turns: 2 });
    const fork = await cli("threads", "fork", threadId, "--at", "1", "--storage", storage);
    const forkId = /-> (\S+)$/.exec(fork.out.trim())?.[1] as string;
    expect(fork.out).toBe(`forked ${threadId} at turn 1 -> ${forkId}\n`);
    const list = JSON.parse((await cli("threads", "ls", "--storage", storage, "--json")).out) as ThreadInfo[];
    expect(list.map((t) => [t.threadId, t.turns, t.parentThreadId ?? null]).sort()).toEqual(
      [
        [threadId, 2, null],
        [forkId, 1, threadId],
      ].sort(),
    );
    const table = (await cli("threads", "ls", "--storage", storage)).out;
    expect(table).toContain(`Design a cache (fork of ${threadId}@1)`);
    const tooFar = await cli("threads", "rewind", threadId, "5", "--storage", storage);
    expect(tooFar).toMatchObject({
      code: 1,
      err: `taifeng: cannot rewind 5 turn(s) of thread ${threadId}: 2 can be rewound\n`,
    });
    expect((await cli("threads", "rewind", threadId, "zero", "--storage", storage)).code).toBe(2);
  });

  it("rebuild recreates a deleted or corrupt index", async () => {
    const threadId = await seeded(1);
    writeFileSync(join(storage, "index.sqlite"), "garbage".repeat(200));
    rmSync(join(storage, "index.sqlite-wal"), { force: true });
    rmSync(join(storage, "index.sqlite-shm"), { force: true });
    const rebuilt = await cli("threads", "rebuild", "--storage", storage, "--json");
    expect(rebuilt.code).toBe(0);
    expect(JSON.parse(rebuilt.out)).toEqual({ threads: 1, reindexed: 1, skipped: [], conflicts: [] });
    expect(rebuilt.err).toMatch(
      /taifeng: thread index .*index\.sqlite is unreadable .*rebuilding it from the transcripts/,
    );
    rmSync(join(storage, "index.sqlite"));
    const human = await cli("threads", "rebuild", "--storage", storage);
    expect(human.out).toBe(`indexed 1 thread(s) from ${storage}\n`);
    expect((await cli("threads", "show", threadId, "--storage", storage)).code).toBe(0);
  });

  it("reports unknown threads", async () => {
    const res = await cli("threads", "show", "thr_missing", "--storage", storage);
    expect(res).toMatchObject({ code: 1, err: `taifeng: no thread thr_missing in ${storage}\n` });
  });
});
