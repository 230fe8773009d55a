import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { subprocessEnv } from "../../../sandbox/env.ts";
import { joinRel } from "../../../workspace/paths.ts";
import type { Workspace } from "../../../workspace/types.ts";
import { globMatcher, IgnoreRules } from "../ignore-rules.ts";
import { decodeText, isBinary, splitLines } from "../text.ts";

/** A search request, already validated. */
export interface SearchRequest {
  readonly pattern: string;
  /** Workspace-relative start ("" = root). */
  readonly path: string;
  readonly glob: string | undefined;
  readonly ignoreCase: boolean;
  readonly output: "content" | "files" | "count";
  readonly context: number;
  readonly maxResults: number;
}

/** Result lines (already formatted), whether the cap cut them, or an error for the model. */
export type SearchResult =
  | { readonly ok: true; readonly lines: string[]; readonly capped: boolean }
  | { readonly ok: false; readonly message: string };

let rgPathCache: string | null | undefined;

/** The ripgrep binary shipped in `@vscode/ripgrep`, or null when it is not installed. */
export function ripgrepPath(): string | null {
  if (rgPathCache !== undefined) return rgPathCache;
  try {
    const require = createRequire(import.meta.url);
    const mod = require("@vscode/ripgrep") as { rgPath: string };
    rgPathCache = existsSync(mod.rgPath) ? mod.rgPath : null;
  } catch {
    rgPathCache = null;
  }
  return rgPathCache;
}

/** Runs ripgrep in a local root; reads at most `maxResults` result lines, then stops it. */
export function searchWithRipgrep(
  rg: string,
  root: string,
  req: SearchRequest,
  signal: AbortSignal,
): Promise<SearchResult> {
  const args = [
    "--no-heading",
    "--color=never",
    "--no-require-git",
    "--hidden",
    "--glob",
    "!.git",
    "--max-columns=400",
    "--max-columns-preview",
  ];
  if (req.ignoreCase) args.push("--ignore-case");
  if (req.glob) args.push("--glob", req.glob);
  if (req.output === "files") args.push("--files-with-matches");
  else if (req.output === "count") args.push("--count-matches", "--with-filename");
  else {
    args.push("--line-number", "--with-filename");
    if (req.context > 0) args.push("--context", String(req.context));
  }
  args.push("--regexp", req.pattern, "--", req.path === "" ? "." : req.path);
  return new Promise((resolve) => {
    const child = spawn(rg, args, {
      cwd: root,
      signal,
      env: subprocessEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    let capped = false;
    let partial = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      if (capped) return;
      const parts = (partial + chunk.toString("utf8")).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        if (lines.length >= req.maxResults) {
          capped = true;
          child.kill("SIGKILL");
          return;
        }
        lines.push(line.replace(/^\.\//, ""));
      }
    });
    child.stderr.on("data", (c: Buffer) => {
      if (stderr.length < 4000) stderr += c.toString("utf8");
    });
    child.on("error", (err) => resolve({ ok: false, message: `ripgrep failed: ${err.message}` }));
    child.on("close", (code) => {
      if (!capped && partial !== "" && lines.length < req.maxResults)
        lines.push(partial.replace(/^\.\//, ""));
      if (capped || code === 0 || code === 1) resolve({ ok: true, lines, capped });
      else resolve({ ok: false, message: `grep failed: ${stderr.trim() || `ripgrep exited with ${code}`}` });
    });
  });
}

/**
 * The same search in JavaScript, over any workspace (memory, S3, or local without the
 * ripgrep binary). Uses JavaScript regular expressions, which differ from ripgrep's in
 * rare corners (look-around is supported here, some Unicode classes are not).
 */
export async function searchWithJs(
  ws: Workspace,
  req: SearchRequest,
  signal: AbortSignal,
): Promise<SearchResult> {
  let re: RegExp;
  try {
    re = new RegExp(req.pattern, req.ignoreCase ? "i" : "");
  } catch (err) {
    return { ok: false, message: `Invalid regular expression: ${(err as Error).message}` };
  }
  const rules = new IgnoreRules(ws);
  const matchGlob = req.glob ? globMatcher(req.glob) : undefined;
  const lines: string[] = [];
  const files: string[] = [];
  const start = await ws.stat(req.path, signal);
  if (!start) return { ok: false, message: `Path not found: ${req.path || "."}` };
  if (start.kind === "file") files.push(req.path);
  else {
    const parts = req.path === "" ? [] : req.path.split("/");
    for (let k = 0; k < parts.length; k++) await rules.load(parts.slice(0, k).join("/"), signal);
    const queue = [req.path];
    while (queue.length > 0) {
      const dir = queue.shift() as string;
      await rules.load(dir, signal);
      for (const entry of await ws.list(dir, signal)) {
        const rel = joinRel(dir, entry.name);
        if (entry.name === ".git" || rules.ignores(rel, entry.kind === "dir")) continue;
        if (entry.kind === "dir") queue.push(rel);
        else if (!matchGlob || matchGlob(rel)) files.push(rel);
      }
    }
    files.sort();
  }
  for (const file of files) {
    signal.throwIfAborted();
    const stat = await ws.stat(file, signal);
    if (!stat || stat.size > 4 * 1024 * 1024) continue;
    const bytes = await ws.readFile(file, signal);
    if (isBinary(bytes)) continue;
    const text = splitLines(decodeText(bytes));
    const hits = text.flatMap((line, i) => (re.test(line) ? [i] : []));
    if (hits.length === 0) continue;
    if (req.output === "files") lines.push(file);
    else if (req.output === "count") lines.push(`${file}:${hits.length}`);
    else {
      const shown = new Set<number>();
      for (const h of hits)
        for (let k = Math.max(0, h - req.context); k <= Math.min(text.length - 1, h + req.context); k++)
          shown.add(k);
      for (const k of [...shown].sort((a, b) => a - b)) {
        const sep = hits.includes(k) ? ":" : "-";
        lines.push(`${file}${sep}${k + 1}${sep}${(text[k] as string).slice(0, 400)}`);
      }
    }
    if (lines.length >= req.maxResults)
      return { ok: true, lines: lines.slice(0, req.maxResults), capped: true };
  }
  return { ok: true, lines, capped: false };
}
