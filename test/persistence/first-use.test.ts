import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";

/**
 * A new store used by many processes at the same moment: the directory's schema is created
 * once (idempotent statements under an immediate transaction), the others wait (WAL, busy
 * timeout) instead of failing with "database is locked" or "table threads already exists".
 */

let dir: string;
beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), "taifeng-first-use-")), "store");
});
afterEach(() => rm(join(dir, ".."), { recursive: true, force: true }));

const PROCESSES = 6;

function start(name: string) {
  const child = spawn(process.execPath, [join(import.meta.dirname, "first-use-child.ts"), dir, name], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const ready = new Promise<void>((resolve) => {
    const check = () => {
      if (out.includes("ready\n")) {
        child.stdout.off("data", check);
        resolve();
      }
    };
    child.stdout.on("data", check);
  });
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, out, err })),
  );
  return { child, ready, done };
}

describe("concurrent first use of a new store", () => {
  it(`${PROCESSES} processes create and use one new store at the same moment, without an error`, async () => {
    const children = Array.from({ length: PROCESSES }, (_, i) => start(`p${i}`));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.end("go\n"); // as close to together as a parent can
    const results = await Promise.all(children.map((c) => c.done));
    for (const r of results) {
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const report = JSON.parse(r.out.split("\n")[1] as string) as { listed: number; warnings: string[] };
      expect(report.warnings).toEqual([]); // no index was found broken and rebuilt
      expect(report.listed).toBeGreaterThanOrEqual(1);
    }
    const store = new JsonlThreadStore({ dir });
    expect((await store.list()).map((t) => t.threadId).sort()).toEqual(
      Array.from({ length: PROCESSES }, (_, i) => `thr_p${i}`).sort(),
    );
    for (let i = 0; i < PROCESSES; i++)
      expect(await store.sessions?.threadOf(`session-p${i}`)).toBe(`thr_p${i}`);
    await store.close();
  }, 60_000);
});
