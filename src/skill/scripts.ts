import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { extname } from "node:path";
import { subprocessEnv } from "../sandbox/env.ts";
import { spawnGroup } from "../sandbox/lifeline.ts";

/** One script execution request. */
export interface ScriptRequest {
  /** Absolute path of the script (already checked to be inside a skill's `scripts/`). */
  readonly path: string;
  readonly args: readonly string[];
  /** Working directory: the thread's cwd. */
  readonly cwd: string;
  /** Extra environment variables (merged over the runner's base environment). */
  readonly env?: Readonly<Record<string, string>>;
  /** Aborting kills the script (its whole process group). */
  readonly signal: AbortSignal;
  /** Kill the script after this long; 0 = no limit. */
  readonly timeoutMs: number;
  /** Most bytes kept from each of stdout and stderr; the rest is dropped (and `truncated` set). */
  readonly maxOutputBytes?: number;
}

/** How a script ended. Failures are data: a script that cannot start has `exitCode: null` and `error`. */
export interface ScriptResult {
  /** Exit status; null when killed by a signal or not started. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  readonly truncated: boolean;
  /** Why the script could not start, when it could not. */
  readonly error?: string | undefined;
}

/**
 * Runs one skill script. The seam for sandboxing: the default (`subprocessRunner`) is a plain
 * child process with a process-group kill, timeout and output caps; a host can route scripts
 * through a sandbox by passing its own runner to the skills runtime.
 */
export type ScriptRunner = (request: ScriptRequest) => Promise<ScriptResult>;

/** The command that runs a script: executables directly, known extensions through their interpreter. */
export async function commandFor(path: string): Promise<{ command: string; args: string[] }> {
  switch (extname(path).toLowerCase()) {
    case ".js":
    case ".mjs":
    case ".cjs":
    case ".ts":
    case ".mts":
      return { command: process.execPath, args: [path] };
    case ".sh":
      return { command: "sh", args: [path] };
    case ".bash":
      return { command: "bash", args: [path] };
    case ".py":
      return { command: process.platform === "win32" ? "python" : "python3", args: [path] };
    default:
      break;
  }
  try {
    await access(path, constants.X_OK);
    return { command: path, args: [] };
  } catch {
    return { command: "sh", args: [path] };
  }
}

const DEFAULT_MAX_OUTPUT = 64 * 1024;
const KILL_GRACE_MS = 2000;

/** Options for the default runner. */
export interface SubprocessRunnerOptions {
  /**
   * The base environment scripts see, used as given. Default: the subprocess allowlist
   * (`subprocessEnv`: PATH, HOME, LANG, LC_*, TERM, TMPDIR, USER, SHELL and the declared
   * passthrough names), never the whole parent environment.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Extra parent variables to pass through with the default environment (a trailing `*` matches a prefix). */
  readonly envPassthrough?: readonly string[];
}

/**
 * The default ScriptRunner: spawns the script in its own process group (POSIX), captures
 * stdout and stderr up to `maxOutputBytes` each (default 64 KiB), and on abort or timeout
 * sends SIGTERM to the whole group, then SIGKILL after 2 s. Resolves when the process has
 * exited and its pipes are closed, or right after the kill when a grandchild keeps them open.
 */
export function subprocessRunner(options: SubprocessRunnerOptions = {}): ScriptRunner {
  return async (req) => {
    const { command, args } = await commandFor(req.path);
    const max = req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    const base =
      options.env ?? subprocessEnv(options.envPassthrough ? { passthrough: options.envPassthrough } : {});
    const env = { ...base, ...req.env };
    return new Promise<ScriptResult>((resolve) => {
      const out = new Capture(max);
      const err = new Capture(max);
      let timedOut = false;
      let aborted = false;
      let settled = false;
      let killTimer: NodeJS.Timeout | undefined;
      let hardStop: NodeJS.Timeout | undefined;
      const posix = process.platform !== "win32";
      // Its own process group, which dies with this process (see sandbox/lifeline.ts).
      const child = spawnGroup(command, [...args, ...req.args], {
        cwd: req.cwd,
        env,
        stdio: ["ignore", "pipe", "pipe"],
        windowsHide: true,
      });
      const kill = (sig: NodeJS.Signals) => {
        try {
          if (posix && child.pid !== undefined) process.kill(-child.pid, sig);
          else child.kill(sig);
        } catch {
          // already gone
        }
      };
      const stop = () => {
        kill("SIGTERM");
        killTimer = setTimeout(() => kill("SIGKILL"), KILL_GRACE_MS);
        // A grandchild that escaped the group may hold the pipes open: do not wait for it forever.
        hardStop = setTimeout(() => finish(null, "SIGKILL"), KILL_GRACE_MS * 2);
      };
      const onAbort = () => {
        aborted = true;
        stop();
      };
      const timer =
        req.timeoutMs > 0
          ? setTimeout(() => {
              timedOut = true;
              stop();
            }, req.timeoutMs)
          : undefined;
      if (req.signal.aborted) onAbort();
      else req.signal.addEventListener("abort", onAbort, { once: true });
      const finish = (code: number | null, signal: string | null, error?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(killTimer);
        clearTimeout(hardStop);
        req.signal.removeEventListener("abort", onAbort);
        resolve({
          exitCode: code,
          signal,
          stdout: out.text(),
          stderr: err.text(),
          timedOut,
          aborted,
          truncated: out.truncated || err.truncated,
          error,
        });
      };
      child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
      child.stderr?.on("data", (chunk: Buffer) => err.push(chunk));
      child.on("error", (e) => finish(null, null, e.message));
      child.on("close", (code, signal) => finish(code, signal));
    });
  };
}

/** Keeps the first `max` bytes of a stream. */
class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  push(chunk: Buffer): void {
    const room = this.max - this.size;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (part.length < chunk.length) this.truncated = true;
    this.chunks.push(part);
    this.size += part.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/** The model-readable report of a script run: exit status, then stdout and stderr. */
export function formatScriptResult(name: string, result: ScriptResult, timeoutMs: number): string {
  const status = result.error
    ? `could not start: ${result.error}`
    : result.timedOut
      ? `timed out after ${timeoutMs} ms and was killed`
      : result.aborted
        ? "was aborted"
        : result.exitCode !== null
          ? `exited with code ${result.exitCode}`
          : `was killed by ${result.signal}`;
  const parts = [`Script ${name} ${status}.`];
  if (result.stdout !== "") parts.push(`--- stdout ---\n${result.stdout.trimEnd()}`);
  if (result.stderr !== "") parts.push(`--- stderr ---\n${result.stderr.trimEnd()}`);
  if (result.truncated) parts.push("(output truncated)");
  if (result.stdout === "" && result.stderr === "") parts.push("(no output)");
  return parts.join("\n");
}
