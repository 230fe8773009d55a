import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalWorkspace } from "../workspace/local.ts";
import { parseCheck, runCheck } from "./check.ts";
import { extractFiles, writeExtracted } from "./extract.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tf-pipeline-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ANSWER = [
  "Here is the change.",
  '<file path="src/add.ts">',
  "export const add = (a: number, b: number): number => a + b;",
  "</file>",
  "And a config:",
  '```json path="config/app.json"',
  '{ "port": 8080 }',
  "```",
  "```ts test/add.test.ts",
  'import { add } from "../src/add.ts";',
  "```",
  "```sh",
  "npm test",
  "```",
].join("\n");

describe("extractFiles and writeExtracted", () => {
  it("finds file tags and fences that name a path, and writes them atomically", async () => {
    const files = extractFiles(ANSWER);
    expect(files.map((f) => [f.path, f.source])).toEqual([
      ["src/add.ts", "file_tag"],
      ["config/app.json", "fence"],
      ["test/add.test.ts", "fence"],
    ]);
    const ws = new LocalWorkspace({ root: dir });
    const res = await writeExtracted(ws, files);
    expect(res).toEqual({ written: ["src/add.ts", "config/app.json", "test/add.test.ts"], rejected: [] });
    expect(readFileSync(join(dir, "config/app.json"), "utf8")).toBe('{ "port": 8080 }\n');
  });

  it("refuses paths outside the workspace and writes nothing at all", async () => {
    const files = extractFiles(
      '<file path="../escape.txt">x</file>\n<file path="ok.txt">fine</file>\n<file path="/etc/passwd">y</file>',
    );
    const res = await writeExtracted(new LocalWorkspace({ root: dir }), files);
    expect(res.written).toEqual([]);
    expect(res.rejected.map((r) => r.path)).toEqual(["../escape.txt", "/etc/passwd"]);
    expect(() => readFileSync(join(dir, "ok.txt"))).toThrow();
  });
});

describe("deterministic checks", () => {
  it("labels parse results and command exits", async () => {
    expect((await parseCheck("a.ts", "export const x: number = 1;")).label).toBe("pass");
    const bad = await parseCheck("a.ts", "export const x = ;");
    expect(bad).toMatchObject({ label: "fail", name: "parse a.ts" });
    expect(bad.detail).toMatch(/Expression expected/);
    expect((await parseCheck("a.json", "{")).label).toBe("fail");
    const ok = await runCheck({
      name: "node ok",
      argv: [process.execPath, "-e", "console.log('fine')"],
      cwd: dir,
    });
    expect(ok).toMatchObject({ label: "pass", detail: "fine\n" });
    const fail = await runCheck({
      name: "node fails",
      argv: [process.execPath, "-e", "console.error('boom'); process.exit(3)"],
      cwd: dir,
    });
    expect(fail).toMatchObject({ label: "fail", detail: "exit 3\nboom\n" });
    const slow = await runCheck({
      name: "slow",
      argv: [process.execPath, "-e", "setTimeout(() => {}, 60000)"],
      cwd: dir,
      timeoutMs: 300,
    });
    expect(slow.label).toBe("fail");
    expect(slow.detail).toMatch(/^timed out after 300 ms/);
    const missing = await runCheck({ name: "missing", argv: ["no-such-checker-xyz"], cwd: dir });
    expect(missing.label).toBe("fail");
  });
});
