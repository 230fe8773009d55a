import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callTool, toolContext, toolNamed } from "../../../test/helpers/tool-context.ts";
import { LocalWorkspace } from "../../workspace/local.ts";
import { MemoryWorkspace } from "../../workspace/memory.ts";
import { createBuiltinEnv } from "./env.ts";
import { grepTool } from "./grep/index.ts";
import { ripgrepPath } from "./grep/search.ts";
import { builtinTools } from "./index.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-search-"));
  const files: Record<string, string> = {
    ".gitignore": "dist/\n*.log\n",
    "src/index.ts": "export function main() {\n  return helper();\n}\n",
    "src/util/helper.ts": "// TODO: speed up\nexport function helper() {\n  return 42;\n}\n",
    "src/util/.gitignore": "generated.ts\n",
    "src/util/generated.ts": "export const helper = 'generated';\n",
    "dist/index.js": "function helper() {}\n",
    "debug.log": "helper called\n",
    "README.md": "# Demo\nCall helper() to get 42.\n",
    ".env.example": "PORT=3000\n",
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  for (let i = 0; i < 40; i++) {
    await mkdir(join(dir, "node_modules", `pkg${i}`), { recursive: true });
    await writeFile(join(dir, "node_modules", `pkg${i}`, "index.js"), "module.exports = helper;\n");
  }
  await mkdir(join(dir, ".git", "objects"), { recursive: true });
  await writeFile(join(dir, ".git", "HEAD"), "ref: refs/heads/main\n");
  await mkdir(join(dir, "outside"), { recursive: true });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("list_files", () => {
  it("respects .gitignore (nested too) and summarizes node_modules and .git", async () => {
    const list = toolNamed(builtinTools().tools, "list_files");
    const r = await callTool(list, {}, toolContext({ cwd: dir }));
    expect(r.text.split("\n")).toEqual([
      ".env.example",
      ".git/ (2 entries, not expanded)",
      ".gitignore",
      "README.md",
      "node_modules/ (40 entries, not expanded)",
      "outside/",
      "src/",
      "src/index.ts",
      "src/util/",
      "src/util/.gitignore",
      "src/util/helper.ts",
      "[3 entries ignored by .gitignore not shown]",
    ]);
  });

  it("expands node_modules when asked for it, caps the listing, and limits depth", async () => {
    const list = toolNamed(builtinTools().tools, "list_files");
    const ctx = toolContext({ cwd: dir });
    const nm = await callTool(list, { path: "node_modules", depth: 1, limit: 5 }, ctx);
    expect(nm.text.split("\n")).toEqual([
      "node_modules/pkg0/",
      "node_modules/pkg1/",
      "node_modules/pkg10/",
      "node_modules/pkg11/",
      "node_modules/pkg12/",
      "[35 more entries not shown: raise limit or list a subdirectory]",
    ]);
    const shallow = await callTool(list, { path: "src", depth: 1 }, ctx);
    expect(shallow.text).toBe("src/index.ts\nsrc/util/");
    const all = await callTool(list, { path: "src/util", include_ignored: true }, ctx);
    expect(all.text).toContain("src/util/generated.ts");
  });

  it("works on a memory workspace and refuses escapes", async () => {
    const ws = new MemoryWorkspace({ "a/b.txt": "x", "c.txt": "y" });
    const list = toolNamed(builtinTools({ workspace: ws }).tools, "list_files");
    expect((await callTool(list, {})).text).toBe("a/\na/b.txt\nc.txt");
    expect((await callTool(list, { path: "../.." })).isError).toBe(true);
  });
});

describe("grep", () => {
  const env = createBuiltinEnv({});
  const rg = ripgrepPath();

  it("ships a ripgrep binary with @vscode/ripgrep", () => {
    expect(rg).not.toBeNull();
  });

  const engines = [
    ["ripgrep", grepTool(env, { useRipgrep: true })],
    ["javascript", grepTool(env, { useRipgrep: false })],
  ] as const;

  describe.each(engines)("%s", (_name, tool) => {
    const ctx = () => toolContext({ cwd: dir });

    it("finds content matches with line numbers and honours .gitignore files", async () => {
      const r = await callTool(tool, { pattern: "helper\\(", path: "src" }, ctx());
      expect(r.text.split("\n").sort()).toEqual([
        "src/index.ts:2:  return helper();",
        "src/util/helper.ts:2:export function helper() {",
      ]);
      // dist/ is ignored by the root .gitignore, generated.ts by the nested one.
      expect((await callTool(tool, { pattern: "function helper|'generated'" }, ctx())).text).toBe(
        "src/util/helper.ts:2:export function helper() {",
      );
    });

    it("lists files, counts, filters by glob, ignores case and adds context", async () => {
      expect((await callTool(tool, { pattern: "helper", output: "files", glob: "*.md" }, ctx())).text).toBe(
        "README.md",
      );
      expect(
        (await callTool(tool, { pattern: "return", output: "count", path: "src" }, ctx())).text
          .split("\n")
          .sort(),
      ).toEqual(["src/index.ts:1", "src/util/helper.ts:1"]);
      expect(
        (await callTool(tool, { pattern: "todo", ignore_case: true, path: "src/util/helper.ts" }, ctx()))
          .text,
      ).toBe("src/util/helper.ts:1:// TODO: speed up");
      expect(
        (await callTool(tool, { pattern: "42", path: "src/util/helper.ts", context: 1 }, ctx())).text,
      ).toBe(
        "src/util/helper.ts-2-export function helper() {\nsrc/util/helper.ts:3:  return 42;\nsrc/util/helper.ts-4-}",
      );
    });

    it("caps results and reports no matches", async () => {
      const capped = await callTool(tool, { pattern: "helper", path: "node_modules", max_results: 3 }, ctx());
      expect(capped.text.split("\n")).toHaveLength(4);
      expect(capped.text).toContain("[Stopped at 3 results");
      expect((await callTool(tool, { pattern: "zzz_nothing" }, ctx())).text).toBe(
        "No matches for /zzz_nothing/ in the workspace.",
      );
    });

    it("reports a bad regex and paths outside the workspace as errors", async () => {
      expect((await callTool(tool, { pattern: "(" }, ctx())).isError).toBe(true);
      expect((await callTool(tool, { pattern: "x", path: "../.." }, ctx())).isError).toBe(true);
    });
  });

  it("does not follow a symlink out of the workspace", async () => {
    const root = await mkdtemp(join(tmpdir(), "taifeng-grep-link-"));
    try {
      await writeFile(join(dir, "outside", "secret.txt"), "needle\n");
      await symlink(join(dir, "outside"), join(root, "link"));
      const ws = new LocalWorkspace({ root });
      const tool = grepTool(createBuiltinEnv({ workspace: ws }));
      expect((await callTool(tool, { pattern: "needle" })).text).toBe(
        "No matches for /needle/ in the workspace.",
      );
      expect((await callTool(tool, { pattern: "needle", path: "link" })).isError).toBe(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
