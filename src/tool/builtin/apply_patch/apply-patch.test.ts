import * as realFs from "node:fs/promises";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { callTool, toolContext, toolNamed } from "../../../../test/helpers/tool-context.ts";
import { LocalWorkspace } from "../../../workspace/local.ts";
import type { LocalFs } from "../../../workspace/local-commit.ts";
import { MemoryWorkspace } from "../../../workspace/memory.ts";
import type { Workspace } from "../../../workspace/types.ts";
import { builtinTools } from "../index.ts";
import { PatchParseError, parsePatch } from "./parse.ts";

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function withRead(ws: Workspace, paths: string[]) {
  const set = builtinTools({ workspace: ws });
  for (const path of paths) await callTool(toolNamed(set.tools, "read_file"), { path });
  return (patch: string) => callTool(toolNamed(set.tools, "apply_patch"), { patch });
}

describe("parsePatch", () => {
  it("reads git diffs: add, delete, update, rename, no-newline markers", () => {
    const files = parsePatch(
      [
        "diff --git a/new.txt b/new.txt",
        "new file mode 100644",
        "--- /dev/null",
        "+++ b/new.txt",
        "@@ -0,0 +1,2 @@",
        "+hello",
        "+world",
        "\\ No newline at end of file",
        "--- a/old.txt",
        "+++ /dev/null",
        "--- a/src/x.ts",
        "+++ b/src/x.ts",
        "@@ -3,3 +3,3 @@ function f() {",
        " a",
        "-b",
        "+B",
        "",
        "--- a/one.ts",
        "+++ b/two.ts",
      ].join("\n"),
    );
    expect(files.map((f) => [f.kind, f.from, f.to, f.hunks.length])).toEqual([
      ["add", undefined, "new.txt", 1],
      ["delete", "old.txt", undefined, 0],
      ["update", "src/x.ts", "src/x.ts", 1],
      ["rename", "one.ts", "two.ts", 0],
    ]);
    expect(files[0]?.hunks[0]).toMatchObject({ after: ["hello", "world"], noFinalNewline: true, adds: 2 });
    expect(files[2]?.hunks[0]).toMatchObject({
      oldStart: 3,
      before: ["a", "b"],
      after: ["a", "B"],
      adds: 1,
      removes: 1,
    });
  });

  it("names the line of a malformed patch", () => {
    expect(() => parsePatch("just text")).toThrow(PatchParseError);
    expect(() => parsePatch("--- a/x\n+++ b/x\n@@\n*weird")).toThrow(
      /Patch line 4: hunk lines must start with/,
    );
    expect(() => parsePatch("@@ -1 +1 @@\n-a\n+b")).toThrow(/Patch line 1: .* before any "--- path"/);
  });
});

describe("apply_patch", () => {
  it("changes several files at once, locating hunks by context (line numbers are hints)", async () => {
    const ws = new MemoryWorkspace({
      "src/a.ts": "import x from 'x';\n\nexport function a() {\n  return 1;\n}\n",
      "src/b.ts": "export const b = 1;\n",
      "old.md": "bye\n",
    });
    const apply = await withRead(ws, ["src/a.ts", "src/b.ts", "old.md"]);
    const result = await apply(
      [
        "--- a/src/a.ts",
        "+++ b/src/a.ts",
        "@@ -40,3 +40,3 @@",
        " export function a() {",
        "-  return 1;",
        "+  return 2;",
        " }",
        "--- src/b.ts",
        "+++ src/c.ts",
        "@@",
        "-export const b = 1;",
        "+export const c = 1;",
        "--- /dev/null",
        "+++ b/docs/new.md",
        "@@ -0,0 +1 @@",
        "+# New",
        "--- a/old.md",
        "+++ /dev/null",
      ].join("\n"),
    );
    expect(result).toMatchObject({
      isError: false,
      text: "Applied the patch to 4 file(s):\nM src/a.ts (+1 -1)\nR src/b.ts -> src/c.ts (+1 -1)\nA docs/new.md (+1)\nD old.md",
    });
    expect(ws.paths()).toEqual(["docs/new.md", "src/a.ts", "src/c.ts"]);
    expect(dec(await ws.readFile("src/a.ts"))).toBe(
      "import x from 'x';\n\nexport function a() {\n  return 2;\n}\n",
    );
    expect(dec(await ws.readFile("docs/new.md"))).toBe("# New\n");
  });

  it("changes nothing when one hunk does not match", async () => {
    const ws = new MemoryWorkspace({ "a.txt": "one\ntwo\n", "b.txt": "three\n" });
    const apply = await withRead(ws, ["a.txt", "b.txt"]);
    const result = await apply(
      "--- a/a.txt\n+++ b/a.txt\n@@\n-one\n+ONE\n--- a/b.txt\n+++ b/b.txt\n@@\n-four\n+FOUR\n",
    );
    expect(result.isError).toBe(true);
    expect(result.text).toContain(
      "hunk 1 of b.txt does not match the file: these lines were not found:\n  four",
    );
    expect(result.text).toContain("Nothing was changed.");
    expect(dec(await ws.readFile("a.txt"))).toBe("one\ntwo\n");
  });

  it("tolerates whitespace drift, refuses ambiguity without a hint, and uses the hint when given", async () => {
    const ws = new MemoryWorkspace({ "a.py": "x = 1\nsep\nx = 1\n", "b.py": "def f():\n    y = 1   \n" });
    const apply = await withRead(ws, ["a.py", "b.py"]);
    expect((await apply("--- a/a.py\n+++ b/a.py\n@@\n-x = 1\n+x = 2\n")).text).toContain(
      "matches 2 places (lines 1, 3)",
    );
    expect((await apply("--- a/a.py\n+++ b/a.py\n@@ -3,1 +3,1 @@\n-x = 1\n+x = 3\n")).isError).toBe(false);
    expect(dec(await ws.readFile("a.py"))).toBe("x = 1\nsep\nx = 3\n");
    // Trailing spaces in the file, none in the hunk: still found.
    expect((await apply("--- a/b.py\n+++ b/b.py\n@@\n def f():\n-    y = 1\n+    y = 2\n")).isError).toBe(
      false,
    );
    expect(dec(await ws.readFile("b.py"))).toBe("def f():\n    y = 2\n");
  });

  it("applies the read-before-write contract to every file it changes", async () => {
    const ws = new MemoryWorkspace({ "a.txt": "a\n", "unread.txt": "u\n" });
    const apply = await withRead(ws, ["a.txt"]);
    const result = await apply(
      "--- a/a.txt\n+++ b/a.txt\n@@\n-a\n+A\n--- a/unread.txt\n+++ b/unread.txt\n@@\n-u\n+U\n",
    );
    expect(result.text).toContain("Refusing to change unread.txt: you have not read it");
    expect(dec(await ws.readFile("a.txt"))).toBe("a\n");
  });

  it("refuses to add a file that exists, and reports parse errors", async () => {
    const ws = new MemoryWorkspace({ "a.txt": "a\n" });
    const apply = await withRead(ws, []);
    expect((await apply("--- /dev/null\n+++ b/a.txt\n@@\n+x\n")).text).toContain("a.txt already exists");
    expect((await apply("not a patch")).text).toMatch(
      /^The patch could not be parsed\. Patch line 1: no file sections found/,
    );
  });

  it("rolls back every file on disk when the commit fails midway", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taifeng-patch-"));
    try {
      await writeFile(join(dir, "a.txt"), "a\n");
      await writeFile(join(dir, "b.txt"), "b\n");
      let renames = 0;
      const faulty: LocalFs = {
        ...realFs,
        rename: async (from, to) => {
          if (++renames === 2) throw Object.assign(new Error("disk full"), { code: "ENOSPC" });
          return realFs.rename(from, to);
        },
      };
      const ws = new LocalWorkspace({ root: dir, fs: faulty });
      const apply = await withRead(ws, ["a.txt", "b.txt"]);
      const result = await apply(
        "--- a/a.txt\n+++ b/a.txt\n@@\n-a\n+A\n--- a/b.txt\n+++ b/b.txt\n@@\n-b\n+B\n--- /dev/null\n+++ b/c.txt\n@@\n+c\n",
      );
      expect(result.isError).toBe(true);
      expect(result.text).toContain("disk full");
      expect(result.text).toContain("No file was changed.");
      expect(await readFile(join(dir, "a.txt"), "utf8")).toBe("a\n");
      expect(await readFile(join(dir, "b.txt"), "utf8")).toBe("b\n");
      expect((await readdir(dir)).sort()).toEqual(["a.txt", "b.txt"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("declares the paths it touches for permission rules", () => {
    const tool = toolNamed(builtinTools().tools, "apply_patch");
    const input = tool.parse({ patch: "--- a/x.ts\n+++ b/y.ts\n--- /dev/null\n+++ b/z.ts\n@@\n+z\n" });
    expect(input.ok && tool.permission?.subjects?.(input.value)).toEqual(["x.ts", "y.ts", "z.ts"]);
    expect(tool.permission?.rule).toBe("Edit");
    void toolContext;
  });
});
