import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isTaifengError } from "../errors.ts";
import { JsonlThreadStore } from "./jsonl-store.ts";

describe("JsonlThreadStore on an unusable directory", () => {
  // Node's recursive mkdir spins forever on these: each must fail at once, saying where.
  it.each(["/proc/taifeng-x", "/proc/taifeng-x/threads"])("fails fast with store_error on %s", (dir) => {
    expect(() => new JsonlThreadStore({ dir })).toThrow(
      expect.objectContaining({
        code: "store_error",
        message: expect.stringContaining(`cannot create storage directory ${dir}`),
      }),
    );
  });

  it("fails when a parent is a file, and creates missing parents otherwise", () => {
    const root = mkdtempSync(join(tmpdir(), "taifeng-mkdir-"));
    try {
      writeFileSync(join(root, "file"), "x");
      let error: unknown;
      try {
        new JsonlThreadStore({ dir: join(root, "file", "threads") });
      } catch (err) {
        error = err;
      }
      expect(isTaifengError(error, "store_error") && /is not a directory/.test(error.message)).toBe(true);
      const deep = join(root, "a", "b", "c");
      void new JsonlThreadStore({ dir: deep }).close();
      expect(statSync(deep).isDirectory()).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
