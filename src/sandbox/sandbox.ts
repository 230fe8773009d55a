import { spawn } from "node:child_process";
import { realpath } from "node:fs/promises";
import { subprocessEnv } from "./env.ts";
import { runProcess } from "./process.ts";
import type { RunRequest, RunResult, SandboxInfo, SandboxPolicy } from "./types.ts";
import { bwrapArgs, sandboxExecArgs, withLimits } from "./wrap.ts";

/** Options for `Sandbox`. */
export interface SandboxOptions {
  /** bubblewrap executable. Default `bwrap` (from PATH). */
  readonly bwrapPath?: string;
  /** sandbox-exec executable. Default `/usr/bin/sandbox-exec`. */
  readonly sandboxExecPath?: string;
  /** Platform to build commands for. Default `process.platform`. */
  readonly platform?: NodeJS.Platform;
}

/** Whether level 1 can run here, and if not why. */
export type SandboxCheck =
  | { readonly ok: true; readonly runner: SandboxInfo["runner"] }
  | { readonly ok: false; readonly reason: string };

/**
 * Runs commands under a `SandboxPolicy`. Level 1 is probed once (a trivial command in a
 * full sandbox) and the result cached; when it cannot run, commands fail with
 * `sandbox_unavailable` and a message naming what is missing, or fall back to level 0
 * when the policy says `fallback: "level0"` (the result then reports the fallback).
 */
export class Sandbox {
  readonly policy: SandboxPolicy;
  private readonly bwrap: string;
  private readonly sandboxExec: string;
  private readonly platform: NodeJS.Platform;
  private probe: Promise<SandboxCheck> | undefined;

  constructor(policy: SandboxPolicy, options: SandboxOptions = {}) {
    this.policy = policy;
    this.bwrap = options.bwrapPath ?? "bwrap";
    this.sandboxExec = options.sandboxExecPath ?? "/usr/bin/sandbox-exec";
    this.platform = options.platform ?? process.platform;
  }

  /** Whether level 1 works on this machine (cached after the first call). */
  check(): Promise<SandboxCheck> {
    this.probe ??= this.runProbe();
    return this.probe;
  }

  private async runProbe(): Promise<SandboxCheck> {
    if (this.platform === "linux") {
      const args = bwrapArgs({ writable: [], network: false, cwd: "/" }, ["true"]);
      const result = await probeCommand(this.bwrap, args);
      if (result.ok) return { ok: true, runner: "bubblewrap" };
      if (result.missing) {
        return {
          ok: false,
          reason: `sandbox level 1 needs bubblewrap, but "${this.bwrap}" was not found. Install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap) or use sandbox level 0.`,
        };
      }
      return {
        ok: false,
        reason: `bubblewrap cannot create its namespaces here (${result.detail || `exit ${result.code}`}). Unprivileged user namespaces may be disabled (kernel.unprivileged_userns_clone, AppArmor's userns restriction) or forbidden by the container; use sandbox level 0 or allow them.`,
      };
    }
    if (this.platform === "darwin") {
      const result = await probeCommand(
        this.sandboxExec,
        sandboxExecArgs({ writable: [], network: false }, ["/usr/bin/true"]),
      );
      if (result.ok) return { ok: true, runner: "sandbox-exec" };
      return { ok: false, reason: `sandbox-exec is not usable: ${result.detail || "not found"}` };
    }
    return { ok: false, reason: `sandbox level 1 is not supported on ${this.platform}; use level 0` };
  }

  /**
   * Runs `req.argv` under the policy. Never throws: an unavailable sandbox or a failed
   * spawn is a result status.
   */
  async run(req: RunRequest): Promise<RunResult> {
    const { level, network, limits } = this.policy;
    const argv = withLimits(req.argv, limits);
    if (level === 0) return runProcess({ ...req, argv }, { level: 0, runner: "subprocess", network: true });
    const check = await this.check();
    if (!check.ok) {
      if (this.policy.fallback === "level0") {
        return runProcess(
          { ...req, argv },
          { level: 0, runner: "subprocess", network: true, fallbackReason: check.reason },
        );
      }
      return {
        status: "sandbox_unavailable",
        message: check.reason,
        sandbox: { level: 1, runner: "bubblewrap", network },
      };
    }
    const writable = await Promise.all(this.policy.writable.map((p) => realpath(p).catch(() => p)));
    if (check.runner === "bubblewrap") {
      const cwd = await realpath(req.cwd).catch(() => req.cwd);
      return runProcess(
        { ...req, argv: [this.bwrap, ...bwrapArgs({ writable, network, cwd }, argv)] },
        { level: 1, runner: "bubblewrap", network },
      );
    }
    return runProcess(
      { ...req, argv: [this.sandboxExec, ...sandboxExecArgs({ writable, network }, argv)] },
      { level: 1, runner: "sandbox-exec", network },
    );
  }
}

function probeCommand(
  file: string,
  args: string[],
): Promise<{ ok: boolean; missing: boolean; code: number | null; detail: string }> {
  return new Promise((resolve) => {
    let stderr = "";
    const child = spawn(file, args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: subprocessEnv(),
      timeout: 10_000,
    });
    child.stderr?.on("data", (c: Buffer) => {
      if (stderr.length < 2000) stderr += c.toString("utf8");
    });
    child.on("error", (err: NodeJS.ErrnoException) =>
      resolve({ ok: false, missing: err.code === "ENOENT", code: null, detail: err.message }),
    );
    child.on("close", (code) => resolve({ ok: code === 0, missing: false, code, detail: stderr.trim() }));
  });
}
