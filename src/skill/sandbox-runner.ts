import { subprocessEnv } from "../sandbox/env.ts";
import { Sandbox } from "../sandbox/sandbox.ts";
import {
  isRunFailure,
  type ResourceLimits,
  type SandboxLevel,
  type SandboxNetwork,
} from "../sandbox/types.ts";
import { commandFor, type ScriptRunner } from "./scripts.ts";

/** The sandbox policy of `sandboxedScriptRunner` when it makes its own sandboxes. */
export interface ScriptSandboxPolicy {
  readonly level: SandboxLevel;
  /** Network inside a level-1 sandbox. Default false. */
  readonly network?: SandboxNetwork;
  readonly limits?: ResourceLimits;
  /** Writable paths at level 1 besides the script's working directory. */
  readonly writable?: readonly string[];
  readonly fallback?: "error" | "level0";
}

/** Options for `sandboxedScriptRunner`. */
export type SandboxedScriptOptions = (
  | ScriptSandboxPolicy
  | {
      /**
       * The sandbox for a working directory, e.g. `builtins.sandboxFor`: scripts then run
       * under the same sandbox as the bash tool (and its owner closes it).
       */
      readonly sandbox: (cwd: string) => Sandbox;
    }
) & {
  /**
   * Base environment, used as given (the request's variables are merged over it). Default:
   * the subprocess allowlist (`subprocessEnv`) with `envPassthrough`.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra parent variables to pass through with the default environment. */
  readonly envPassthrough?: readonly string[];
};

/**
 * Runs skill scripts through a Sandbox: level 0 (own process group, limits, group kill,
 * death with the engine) or level 1 (`@anthropic-ai/sandbox-runtime`: secrets hidden,
 * writable working directory, private /tmp, no network unless allowed). The sandbox
 * interleaves the two streams, so the combined output is reported as `stdout` (with
 * `stderr` empty).
 */
export function sandboxedScriptRunner(options: SandboxedScriptOptions): ScriptRunner {
  const sandboxes = new Map<string, Sandbox>();
  const base: Record<string, string> = options.env
    ? { ...options.env }
    : subprocessEnv(options.envPassthrough ? { passthrough: options.envPassthrough } : {});
  const sandboxFor = (cwd: string): Sandbox => {
    if ("sandbox" in options) return options.sandbox(cwd);
    let sandbox = sandboxes.get(cwd);
    if (!sandbox) {
      sandbox = new Sandbox({
        level: options.level,
        network: options.network ?? false,
        writable: [cwd, ...(options.writable ?? [])],
        ...(options.limits ? { limits: options.limits } : {}),
        ...(options.fallback ? { fallback: options.fallback } : {}),
      });
      sandboxes.set(cwd, sandbox);
    }
    return sandbox;
  };
  return async (req) => {
    const sandbox = sandboxFor(req.cwd);
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
