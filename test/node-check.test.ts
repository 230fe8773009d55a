import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.ts";

/**
 * `import "taifeng"` on a Node too old for the package fails with one line saying what is
 * needed, not with ERR_UNKNOWN_BUILTIN_MODULE: src/index.ts evaluates src/node-check.ts first,
 * and nothing imports `node:sqlite` statically (a static import fails while the module graph
 * is linked, before any check can run). Checked by hand on the built package with Node 20.
 */

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")
        ? [join(dir, e.name)]
        : [],
  );
}

describe("the package on an old Node", () => {
  it("checks the version first and loads node:sqlite only when a store needs it", () => {
    const index = readFileSync(join(ROOT, "src", "index.ts"), "utf8");
    const firstImport = /^(?:import|export)\b.*$/m.exec(index)?.[0];
    expect(firstImport).toBe('import "./node-check.ts";');
    const staticSqlite = sources(join(ROOT, "src")).filter((file) =>
      /^import\s+(?!type\b)[^;]*from\s+"node:sqlite"/m.test(readFileSync(file, "utf8")),
    );
    expect(staticSqlite).toEqual([]);
  });

  it("says in one line what is needed when the Node is older than 22.13", () => {
    const old = [process.env.TAIFENG_OLD_NODE, "/usr/bin/node", "/usr/local/bin/node"].find((p) => {
      if (!p || !existsSync(p)) return false;
      const [major = 0, minor = 0] = spawnSync(p, ["--version"], { encoding: "utf8" })
        .stdout.trim()
        .replace(/^v/, "")
        .split(".")
        .map(Number);
      return major < 22 || (major === 22 && minor < 13);
    });
    if (!old && process.env.CI === "true")
      throw new Error("needs a Node older than 22.13 (TAIFENG_OLD_NODE)");
    const dir = mkdtempSync(join(tmpdir(), "taifeng-node-check-"));
    try {
      const check = join(dir, "node-check.mjs");
      writeFileSync(check, stripTypeScriptTypes(readFileSync(join(ROOT, "src", "node-check.ts"), "utf8")));
      // This Node passes the check silently.
      expect(spawnSync(process.execPath, [check], { encoding: "utf8" }).status).toBe(0);
      if (!old) return;
      const res = spawnSync(old, [check], { encoding: "utf8" });
      expect(res.status).toBe(1);
      expect(res.stderr).toMatch(
        /Error: taifeng needs Node\.js 22\.13 or newer \(this is \d+\.\d+\.\d+\): install Node 24 LTS/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
