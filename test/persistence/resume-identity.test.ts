import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startChild } from "./child-process.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "taifeng-resume-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const requests = (path: string) => readFileSync(path, "utf8").trimEnd().split("\n");

describe("resume in another process", () => {
  it("sends model requests byte-identical to those of a process that never stopped", {
    timeout: 30_000,
  }, async () => {
    const common = { threadId: "thr_same", outputBytes: 300 };
    const straight = join(dir, "straight.log");
    const run = startChild({ ...common, dir: join(dir, "a"), startTurn: 1, turns: 4, requestLog: straight });
    expect(await run.exited, run.stderr()).toBe(0);

    // The same conversation, killed with SIGKILL after two acknowledged turns, resumed by a new process.
    const resumed = join(dir, "resumed.log");
    const first = startChild({
      ...common,
      dir: join(dir, "b"),
      startTurn: 1,
      turns: 2,
      hold: true,
      requestLog: resumed,
    });
    await first.waitFor("holding");
    first.process.kill("SIGKILL");
    await first.exited;
    const second = startChild({
      ...common,
      dir: join(dir, "b"),
      startTurn: 3,
      turns: 2,
      requestLog: resumed,
    });
    expect(await second.exited, second.stderr()).toBe(0);
    expect(second.messages[0]).toMatchObject({ type: "opened", resumed: true, turns: 2, dangling: 0 });

    const a = requests(straight);
    const b = requests(resumed);
    expect(a).toHaveLength(8);
    expect(b).toEqual(a);
    // The first request after the restart carries the whole replayed history as its prefix.
    expect((JSON.parse(b[4] as string) as { items: unknown[] }).items).toHaveLength(11);
  });

  it("stays byte-identical with the defaults on: context manager, output cap, artifacts read back after the restart (P3)", async () => {
    const common = { threadId: "thr_defaults", outputBytes: 30_000, defaults: true, contextWindow: 12_000 };
    const straight = join(dir, "straight.log");
    const run = startChild({ ...common, dir: join(dir, "a"), startTurn: 1, turns: 4, requestLog: straight });
    expect(await run.exited, run.stderr()).toBe(0);

    const resumed = join(dir, "resumed.log");
    const first = startChild({
      ...common,
      dir: join(dir, "b"),
      startTurn: 1,
      turns: 2,
      hold: true,
      requestLog: resumed,
    });
    await first.waitFor("holding");
    first.process.kill("SIGKILL");
    await first.exited;
    const second = startChild({
      ...common,
      dir: join(dir, "b"),
      startTurn: 3,
      turns: 2,
      requestLog: resumed,
    });
    expect(await second.exited, second.stderr()).toBe(0);

    const a = requests(straight);
    const b = requests(resumed);
    expect(b.length).toBe(a.length);
    // Compared as booleans: the requests are large, a diff of them would drown the report.
    for (const [i, request] of b.entries()) expect(request === a[i], `request ${i + 1} differs`).toBe(true);
    const all = a.join("\n");
    // The defaults really were at work: outputs were capped into artifacts, and the artifact
    // made in the first process was read back by the second.
    expect(/omitted\. The full output \(\d+ lines?\) is artifact art_/.test(all)).toBe(true);
    const afterRestart = b.slice(b.findIndex((r) => r.includes("Turn 3:"))).join("\n");
    expect(afterRestart.includes("1\\tFacts for turn 1: lorem ipsum")).toBe(true);
    expect(afterRestart.includes("not found")).toBe(false);
    expect(all.includes("[output trimmed")).toBe(true);
  }, 30_000);
});
