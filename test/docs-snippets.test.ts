import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.ts";

/**
 * Every TypeScript block of the README and the guides is a program a reader can paste: it
 * type-checks as written (imports from "taifeng" resolve to the sources), and runs without
 * an API key unless it says why it cannot. A block is marked by an HTML comment on the line
 * before its fence:
 * - `<!-- snippet: shape -->`: a type's shape, not a program (neither checked nor run);
 * - `<!-- snippet: no-run (why) -->`: type-checked, not run (needs a key, a server, a path);
 * - `<!-- snippet: not-checked (why) -->`: needs a package the project does not install.
 */

interface Snippet {
  readonly doc: string;
  readonly line: number;
  readonly code: string;
  readonly mode: "run" | "check" | "skip";
  readonly file: string;
}

const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs", "guides")).map((f) => join("docs", "guides", f))]
  .filter((f) => f.endsWith(".md"))
  .sort();

function extract(doc: string): Snippet[] {
  const lines = readFileSync(join(ROOT, doc), "utf8").split("\n");
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i] as string)) continue;
    const marker = /^<!-- snippet: (shape|no-run|not-checked)\b/.exec(lines[i - 1] ?? "")?.[1];
    const start = i + 1;
    let end = start;
    while (end < lines.length && !(lines[end] as string).startsWith("```")) end++;
    const n = out.length + 1;
    out.push({
      doc,
      line: start,
      code: lines.slice(start, end).join("\n"),
      mode: marker === undefined ? "run" : marker === "no-run" ? "check" : "skip",
      file: `${basename(doc, ".md").replace(/[^A-Za-z0-9]/g, "_")}_${n}.ts`,
    });
    i = end;
  }
  return out;
}

const SPECIFIERS: Record<string, string> = {
  taifeng: "src/index.ts",
  "taifeng/providers": "src/llm/providers/index.ts",
  "taifeng/sim": "src/llm/sim/index.ts",
  "taifeng/protocol": "src/protocol/index.ts",
  "taifeng/mcp": "src/mcp/index.ts",
  "taifeng/server": "src/server/index.ts",
  "taifeng/backends": "src/backends/index.ts",
  "taifeng/agents": "src/agents/index.ts",
};

/** The snippet, written in `dir`, with its package imports pointed at the sources (nothing else changes). */
function resolved(code: string, dir: string): string {
  return code.replace(/from "(taifeng(?:\/[a-z]+)?)"/g, (whole, spec: string) =>
    SPECIFIERS[spec]
      ? `from ${JSON.stringify(relative(dir, join(ROOT, SPECIFIERS[spec] as string)))}`
      : whole,
  );
}

const snippets = DOCS.flatMap(extract);
const work = mkdtempSync(join(tmpdir(), "taifeng-snippets-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("documentation snippets", () => {
  it("are found, and every one is a program or says why not", () => {
    expect(snippets.length).toBeGreaterThan(15);
    expect(snippets.filter((s) => s.mode === "run").length).toBeGreaterThan(5);
  });

  it("type-check as written", { timeout: 180_000 }, () => {
    const dir = join(work, "check");
    mkdirSync(dir, { recursive: true });
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    const files = snippets.filter((s) => s.mode !== "skip");
    for (const s of files) writeFileSync(join(dir, s.file), resolved(s.code, dir));
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: join(ROOT, "tsconfig.json"),
        compilerOptions: { rootDir: "/", noEmit: true, noUnusedLocals: false },
        include: ["*.ts"],
      }),
    );
    const tsc = spawnSync(
      process.execPath,
      [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", dir],
      {
        encoding: "utf8",
      },
    );
    // Name each error by the guide and line it comes from.
    const where = new Map(files.map((s) => [s.file, s]));
    const errors = `${tsc.stdout}${tsc.stderr}`
      .split("\n")
      .filter((l) => /error TS\d+/.test(l))
      .map((l) => {
        const m = /([A-Za-z0-9_]+\.ts)\((\d+),\d+\)/.exec(l);
        const s = m ? where.get(m[1] as string) : undefined;
        return s ? `${s.doc}:${s.line + Number(m?.[2]) - 1}: ${l.slice(l.indexOf("error"))}` : l;
      });
    expect(errors).toEqual([]);
    expect(tsc.status).toBe(0);
  });

  for (const s of snippets.filter((x) => x.mode === "run")) {
    it(`${s.doc}:${s.line} runs without an API key`, { timeout: 60_000 }, () => {
      const dir = join(work, "run", s.file.replace(/\.ts$/, ""));
      mkdirSync(dir, { recursive: true });
      symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
      writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
      writeFileSync(join(dir, s.file), resolved(s.code, dir));
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, TAIFENG_STORAGE: join(dir, "threads") };
      for (const key of [
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "DEEPSEEK_API_KEY",
      ])
        delete env[key];
      const res = spawnSync(process.execPath, [s.file], { cwd: dir, env, encoding: "utf8", timeout: 30_000 });
      expect({ snippet: `${s.doc}:${s.line}`, status: res.status, stderr: res.stderr }).toEqual({
        snippet: `${s.doc}:${s.line}`,
        status: 0,
        stderr: "",
      });
    });
  }
});
