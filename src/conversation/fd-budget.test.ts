import {
  fstat as fstatCb,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isTaifengError } from "../errors.ts";
import { FdBudget } from "./fd-budget.ts";

const fstat = promisify(fstatCb);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "taifeng-fd-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Descriptors this process holds on files of the test directory. */
function heldInDir(): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

function files(n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const path = join(dir, `f${i}`);
    writeFileSync(path, `file ${i}\n`);
    return path;
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("FdBudget", () => {
  it("keeps at most maxOpen descriptors, closing the least recently used idle one", async () => {
    const budget = new FdBudget({ maxOpen: 3, waitMs: 1_000 });
    const paths = files(10);
    for (const path of paths) await budget.withFd(path, () => {});
    expect(heldInDir()).toBe(3);
    expect(budget.stats).toMatchObject({ open: 3, peak: 3, opens: 10, evictions: 7 });
    await budget.withFd(paths[9] as string, () => {}); // still cached: no open
    await budget.withFd(paths[0] as string, () => {}); // evicted long ago: opened again
    expect(budget.stats.opens).toBe(11);
    budget.closeAll();
    expect(heldInDir()).toBe(0);
  });

  it("makes an operation wait while every descriptor is busy, then lets it through", async () => {
    const budget = new FdBudget({ maxOpen: 2, waitMs: 5_000 });
    const [a, b, c] = files(3) as [string, string, string];
    const gate = deferred();
    let entered = 0;
    const hold = () => {
      entered++;
      return gate.promise;
    };
    const holders = [budget.withFd(a, hold), budget.withFd(b, hold)];
    while (entered < 2) await new Promise((r) => setTimeout(r, 1));
    let third = false;
    const waiting = budget.withFd(c, () => {
      third = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(third).toBe(false);
    expect(heldInDir()).toBe(2);
    gate.resolve();
    await Promise.all([...holders, waiting]);
    expect(third).toBe(true);
    expect(budget.stats.waits).toBe(1);
    expect(budget.stats.peak).toBe(2);
  });

  it("fails with a classified store_error after waitMs, and works again afterwards", async () => {
    const budget = new FdBudget({ maxOpen: 2, waitMs: 40 });
    const [a, b, c] = files(3) as [string, string, string];
    const gate = deferred();
    const holders = [budget.withFd(a, () => gate.promise), budget.withFd(b, () => gate.promise)];
    const error = await budget
      .withFd(c, () => {})
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isTaifengError(error, "store_error")).toBe(true);
    expect((error as { details: unknown }).details).toMatchObject({ reason: "descriptors_exhausted" });
    expect(String((error as Error).message)).toMatch(
      /no file descriptor for .*f2 within 40 ms: all 2 descriptors .* busy\. Nothing was written or lost/,
    );
    gate.resolve();
    await Promise.all(holders);
    await expect(budget.withFd(c, () => "ok")).resolves.toBe("ok");
  });

  it("never lets a write land in another file while 400 writes share 3 descriptors", async () => {
    // A descriptor closed between its open and its use would be reused by the next open, and
    // a write meant for one transcript would land in another.
    const budget = new FdBudget({ maxOpen: 3, waitMs: 5_000 });
    const paths = Array.from({ length: 40 }, (_, i) => {
      const path = join(dir, `t${i}`);
      writeFileSync(path, "");
      return path;
    });
    await Promise.all(
      Array.from({ length: 400 }, (_, n) => {
        const i = n % 40;
        const slot = Math.floor(n / 40);
        return budget.withFd(paths[i] as string, async (fd) => {
          if (n % 2 === 0) await fstat(fd); // a trip through the thread pool, as a read would
          writeSync(fd, Buffer.from(`${String(i).padStart(2, "0")}\n`), 0, 3, slot * 3);
        });
      }),
    );
    for (let i = 0; i < 40; i++)
      expect(readFileSync(paths[i] as string, "utf8")).toBe(`${String(i).padStart(2, "0")}\n`.repeat(10));
    expect(budget.stats.peak).toBeLessThanOrEqual(3);
  });

  it("closes a forgotten handle only when its user is done", async () => {
    const budget = new FdBudget({ maxOpen: 4, waitMs: 1_000 });
    const [a] = files(1) as [string];
    const gate = deferred();
    const entered = deferred();
    const using = budget.withFd(a, () => {
      entered.resolve();
      return gate.promise;
    });
    await entered.promise;
    budget.forget(a);
    expect(heldInDir()).toBe(1);
    gate.resolve();
    await using;
    expect(heldInDir()).toBe(0);
    expect(budget.stats.open).toBe(0);
  });
});
