/** Deterministic checks on generated code: parse, type-check, run a command; pass or fail. */
import { spawnGroup } from "../sandbox/lifeline.ts";

/** The outcome of one check: a label a preference-pair export can use directly. */
export interface CheckResult {
  readonly name: string;
  readonly label: "pass" | "fail";
  /** Why it failed (the parser's message, the command's exit and output tail). */
  readonly detail: string;
  readonly durationMs: number;
}

/** Options of `runCheck`. */
export interface CodeCheck {
  readonly name: string;
  /** The program and its arguments (no shell). */
  readonly argv: readonly string[];
  readonly cwd: string;
  /** Default 60 s; a timeout is a failure. */
  readonly timeoutMs?: number;
  /** Environment of the command. Default: PATH and HOME only. */
  readonly env?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

const TAIL = 4_000;

/**
 * Runs a command (a type checker, a test runner, a linter) in its own process group and labels
 * the result: exit 0 is `pass`, anything else (a non-zero exit, a signal, a timeout, a command
 * that cannot start) is `fail` with the exit and the last 4,000 characters of output. The
 * whole group is killed on timeout or abort, so nothing is left behind.
 */
export function runCheck(check: CodeCheck): Promise<CheckResult> {
  const started = performance.now();
  const env = check.env ?? { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/" };
  return new Promise((resolve) => {
    let out = "";
    let settled = false;
    const finish = (label: "pass" | "fail", detail: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      check.signal?.removeEventListener("abort", onAbort);
      resolve({ name: check.name, label, detail, durationMs: Math.round(performance.now() - started) });
    };
    const [file, ...args] = check.argv;
    if (!file) return finish("fail", "no command given");
    const child = spawnGroup(file, args, { cwd: check.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const collect = (d: Buffer) => {
      out = (out + d.toString("utf8")).slice(-TAIL);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const timeoutMs = check.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      kill();
      finish("fail", `timed out after ${timeoutMs} ms\n${out}`);
    }, timeoutMs);
    const onAbort = () => {
      kill();
      finish("fail", "aborted");
    };
    check.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (err) => finish("fail", `cannot run ${file}: ${err.message}`));
    child.on("close", (code, sig) => {
      if (code === 0) finish("pass", out);
      else finish("fail", `${sig ? `killed by ${sig}` : `exit ${code}`}\n${out}`);
    });
  });
}

/**
 * Parses a generated file by its extension without running it: `.json` with JSON.parse,
 * `.js`/`.mjs`/`.cjs`/`.ts`/`.mts`/`.cts` with Node's TypeScript parser
 * (a syntax check, not a type check: use `runCheck` with `tsc --noEmit` for types). Other
 * extensions pass (nothing to check).
 */
export async function parseCheck(path: string, content: string): Promise<CheckResult> {
  const started = performance.now();
  const done = (label: "pass" | "fail", detail: string): CheckResult => ({
    name: `parse ${path}`,
    label,
    detail,
    durationMs: Math.round(performance.now() - started),
  });
  const ext = /\.([a-z]+)$/.exec(path)?.[1] ?? "";
  try {
    if (ext === "json") JSON.parse(content);
    else if (["js", "mjs", "cjs", "ts", "mts", "cts"].includes(ext)) {
      // Node's TypeScript parser (amaro) reads JavaScript too; a syntax error throws here.
      const { stripTypeScriptTypes } = await import("node:module");
      stripTypeScriptTypes(content, { mode: "transform" });
    } else return done("pass", `no parser for .${ext}`);
    return done("pass", "");
  } catch (err) {
    return done("fail", (err as Error).message);
  }
}
