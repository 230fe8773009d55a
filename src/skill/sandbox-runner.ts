import { subprocessEnv } from "../sandbox/env.ts";
import { Sandbox } from "../sandbox/sandbox.ts";
import { isRunFailure, type ResourceLimits, type SandboxLevel } from "../sandbox/types.ts";
import { commandFor, type ScriptRunner } from "./scripts.ts";

/** Options for `sandboxedScriptRunner`. */
export interface SandboxedScriptOptions {
  readonly level: SandboxLevel;
  /** Network inside a level-1 sandbox. Default false. */
  readonly network?: boolean;
  readonly limits?: ResourceLimits;
  /** Writable paths at level 1 besides the script's working directory. */
  readonly writable?: readonly string[];
  readonly fallback?: "error" | "level0";
  /**
   * Base environment, used as given (the request's variables are merged over it). Default:
   * the subprocess allowlist (`subprocessEnv`) with `envPassthrough`.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra parent variables to pass through with the default environment. */
  readonly envPassthrough?: readonly string[];
}

/**
 * Runs skill scripts through the sandbox the bash tool uses: level 0 (own process group,
 * limits, group kill) or level 1 (bubblewrap / sandbox-exec: read-only system, writable
 * working directory, no network unless allowed). The sandbox interleaves the two streams, so
 * the combined output is reported as `stdout` (with `stderr` empty).
 */
export function sandboxedScriptRunner(options: SandboxedScriptOptions): ScriptRunner {
  const sandboxes = new Map<string, Sandbox>();
  const base: Record<string, string> = options.env
    ? { ...options.env }
    : subprocessEnv(options.envPassthrough ? { passthrough: options.envPassthrough } : {});
  return async (req) => {
    let sandbox = sandboxes.get(req.cwd);
    if (!sandbox) {
      sandbox = new Sandbox({
        level: options.level,
        network: options.network ?? false,
        writable: [req.cwd, ...(options.writable ?? [])],
        ...(options.limits ? { limits: options.limits } : {}),
        ...(options.fallback ? { fallback: options.fallback } : {}),
      });
      sandboxes.set(req.cwd, sandbox);
    }
    const { command, args } = await commandFor(req.path);
    const result = await sandbox.run({
      argv: [command, ...args, ...req.args],
      cwd: req.cwd,
      env: { ...base, ...req.env },
      timeoutMs: req.timeoutMs,
      signal: req.signal,
      ...(req.maxOutputBytes !== undefined ? { maxCaptureBytes: req.maxOutputBytes } : {}),
    });
    if (isRunFailure(result)) {
      return {
        exitCode: null,
        signal: null,
        stdout: "",
        stderr: "",
        timedOut: false,
        aborted: false,
        truncated: false,
        error: result.message,
      };
    }
    return {
      exitCode: result.exitCode,
      signal: result.signal,
      stdout: result.output,
      stderr: "",
      timedOut: result.status === "timeout",
      aborted: result.status === "aborted",
      truncated: result.omittedBytes > 0,
    };
  };
}
