import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI = join(ROOT, "src", "cli", "main.ts");

/** Output of a finished CLI process. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Provider keys are removed so that `taifeng run` without `--model` stays on the simulator. */
const PROVIDER_KEYS = [
  "OPENAI_API_KEY",
  "ANTHROPIC_API_KEY",
  "GEMINI_API_KEY",
  "GOOGLE_API_KEY",
  "DEEPSEEK_API_KEY",
];

let storage: string | undefined;

/**
 * The environment of a spawned CLI: no provider keys, and thread storage in a private
 * temporary directory (per test worker) instead of the user's ~/.taifeng/threads, unless a
 * test sets TAIFENG_STORAGE or HOME itself.
 */
function hermeticEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of PROVIDER_KEYS) delete env[key];
  storage ??= mkdtempSync(join(tmpdir(), "taifeng-cli-threads-"));
  env.TAIFENG_STORAGE = storage;
  return env;
}

/** Starts `taifeng` as a real child process (Node runs the TypeScript source directly). */
export function startCli(
  args: readonly string[],
  options: { input?: string; env?: Record<string, string>; cwd?: string } = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...hermeticEnv(), NO_COLOR: "1", ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => (stderr += d));
  if (options.input !== undefined) child.stdin?.end(options.input);
  else child.stdin?.end();
  const done = new Promise<CliResult>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

/** Runs `taifeng` to completion. */
export function runCli(
  args: readonly string[],
  options?: Parameters<typeof startCli>[1],
): Promise<CliResult> {
  return startCli(args, options).done;
}
