import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isTaifengError } from "../errors.ts";
import { acquireLock, currentProcess, type LockOwner, processStartTime } from "./lock-file.ts";

let dir: string;
let children: ChildProcess[] = [];
const self = currentProcess();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "taifeng-lock-"));
});
afterEach(() => {
  for (const child of children) child.kill("SIGKILL");
  children = [];
  rmSync(dir, { recursive: true, force: true });
});

function liveChild(): number {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  children.push(child);
  return child.pid as number;
}

function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid as number;
}

function writeOwner(path: string, owner: Partial<LockOwner>): void {
  writeFileSync(
    path,
    JSON.stringify({ host: self.host, token: "t-old", since: 1_700_000_000_000, ...owner }),
  );
}

async function lockError(path: string): Promise<string> {
  try {
    await acquireLock(path, "thread x", self);
  } catch (err) {
    if (isTaifengError(err, "thread_locked")) return err.message;
    throw err;
  }
  throw new Error("expected thread_locked");
}

describe("acquireLock", () => {
  it("writes the owner into the lock file and removes it on release", async () => {
    const path = join(dir, "x.lock");
    const lock = await acquireLock(path, "thread x", self);
    const owner = JSON.parse(readFileSync(path, "utf8")) as LockOwner;
    expect(owner).toMatchObject({ pid: process.pid, host: self.host, token: lock.owner.token });
    await lock.release();
    await lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it("refuses a second holder in the same process, naming the holder", async () => {
    const path = join(dir, "x.lock");
    await acquireLock(path, "thread x", self);
    expect(await lockError(path)).toMatch(
      new RegExp(`thread x is locked for writing by process ${process.pid} on .* \\(lock file ${path}\\)`),
    );
  });

  it("refuses a lock held by another live process", async () => {
    const path = join(dir, "x.lock");
    const pid = liveChild();
    writeOwner(path, { pid, start: processStartTime(pid) });
    expect(await lockError(path)).toMatch(`by process ${pid}`);
  });

  it("takes over a lock left by a dead process", async () => {
    const path = join(dir, "x.lock");
    writeOwner(path, { pid: deadPid() });
    const lock = await acquireLock(path, "thread x", self);
    expect((JSON.parse(readFileSync(path, "utf8")) as LockOwner).token).toBe(lock.owner.token);
    expect(existsSync(`${path}.takeover`)).toBe(false);
  });

  it.skipIf(!existsSync("/proc/self/stat"))(
    "takes over a lock whose pid now belongs to another process",
    async () => {
      const path = join(dir, "x.lock");
      writeOwner(path, { pid: liveChild(), start: "1" });
      const lock = await acquireLock(path, "thread x", self);
      expect(lock.owner.pid).toBe(process.pid);
    },
  );

  it("never takes over a lock held on another host", async () => {
    const path = join(dir, "x.lock");
    writeOwner(path, { pid: deadPid(), host: "elsewhere.example" });
    expect(await lockError(path)).toMatch("on elsewhere.example");
  });

  it("treats an unreadable lock file as held until it is old", async () => {
    const path = join(dir, "x.lock");
    writeFileSync(path, "");
    expect(await lockError(path)).toMatch("by another process");
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const lock = await acquireLock(path, "thread x", self);
    expect(lock.owner.pid).toBe(process.pid);
  });

  it("lets exactly one of many concurrent takeovers win", async () => {
    const path = join(dir, "x.lock");
    writeOwner(path, { pid: deadPid() });
    // Each contender poses as a distinct live process, as separate processes would be.
    const contenders = Array.from({ length: 8 }, () => {
      const pid = liveChild();
      return { ...self, pid, start: processStartTime(pid) };
    });
    const results = await Promise.allSettled(contenders.map((c) => acquireLock(path, "thread x", c)));
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const r of results)
      if (r.status === "rejected") expect(isTaifengError(r.reason, "thread_locked")).toBe(true);
  });
});
