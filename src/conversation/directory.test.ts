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
