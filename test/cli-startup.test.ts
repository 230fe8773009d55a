import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.ts";

/**
 * The CLI loads a command's modules only when the command line names it: `--version` loads
 * no engine code, `run` no MCP, skills-tooling or thread-tooling modules. Measured by the
 * modules Node actually loads (a `registerHooks` load hook records every source file).
 */
function loadedBy(argv: readonly string[]): string[] {
  const program = join(ROOT, "src/cli/program.ts");
  const script = `
    import { registerHooks } from "node:module";
    const seen = [];
    registerHooks({ load(url, context, next) { if (url.includes("/src/")) seen.push(url.slice(url.indexOf("/src/") + 1)); return next(url, context); } });
    const { main } = await import(${JSON.stringify(program)});
    const sink = { write: () => true };
    await main(${JSON.stringify(argv)}, { stdin: process.stdin, stdout: sink, stderr: sink, env: {}, cwd: process.cwd(), onInterrupt: () => () => {} });
    process.stdout.write(JSON.stringify(seen));
  `;
  const res = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: ROOT,
    encoding: "utf8",
  });
  expect(res.stderr).toBe("");
  return JSON.parse(res.stdout) as string[];
}

describe("CLI start-up loads only what the command needs", { timeout: 60_000 }, () => {
  it("--version loads no engine, MCP, skill or store module", () => {
    const loaded = loadedBy(["--version"]);
    expect(loaded).toContain("src/cli/program.ts");
    expect(loaded.filter((f) => /^src\/(loop|mcp|skill|conversation|llm|tool)\//.test(f))).toEqual([]);
  });

  it("threads ls loads the store but not the engine loop or MCP", () => {
    const loaded = loadedBy([
      "threads",
      "ls",
      "--storage",
      join(ROOT, "node_modules/.cache/no-such-threads"),
    ]);
    expect(loaded).toContain("src/cli/threads-command.ts");
    expect(
      loaded.filter((f) => /^src\/(mcp|cli\/run-command|cli\/mcp-command|cli\/skills-command)/.test(f)),
    ).toEqual([]);
  });

  it("help still lists every command", () => {
    const res = spawnSync(process.execPath, [join(ROOT, "bin/taifeng.mjs"), "--help"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    for (const command of ["run", "permissions", "defense", "skills", "mcp", "threads"])
      expect(res.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
  });
});
