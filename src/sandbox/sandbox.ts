import { existsSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { runProcess } from "./process.ts";
import { SandboxHelper } from "./srt/client.ts";
import type { RunRequest, RunResult, SandboxInfo, SandboxPolicy } from "./types.ts";
import { withLimits } from "./wrap.ts";

/** Options for `Sandbox`. */
export interface SandboxOptions {
  /** bubblewrap executable (absolute path). Default `bwrap` from PATH. */
  readonly bwrapPath?: string;
  /** Home directory whose secrets level 1 hides. Default `os.homedir()`. */
  readonly home?: string;
}

/** Whether level 1 can run here, and if not why. */
export type SandboxCheck =
  | { readonly ok: true; readonly runner: SandboxInfo["runner"] }
  | { readonly ok: false; readonly reason: string };

/** The ripgrep the runtime scans with: the one shipped in @vscode/ripgrep, else `rg` from PATH. */
function ripgrepCommand(): string {
  try {
    const path = (createRequire(import.meta.url)("@vscode/ripgrep") as { rgPath: string }).rgPath;
    if (existsSync(path)) return path;
  } catch {
    // not installed
  }
  return "rg";
}

function level1Runner(platform: NodeJS.Platform): SandboxInfo["runner"] | undefined {
  if (platform === "linux") return "bubblewrap";
  if (platform === "darwin") return "sandbox-exec";
  return undefined;
}

/**
 * Runs commands under a `SandboxPolicy`. Level 0 runs them directly (process group, limits,
 * death with the engine). Level 1 runs them inside `@anthropic-ai/sandbox-runtime` through a
 * helper process of this sandbox (see srt/host.ts): probed once, with a trivial command
 * through the whole chain, and the answer kept. When level 1 cannot run, commands fail with
 * `sandbox_unavailable` and a message naming what is missing, or fall back to level 0 when
 * the policy says `fallback: "level0"` (the result then reports the fallback). Call
 * `close()` to stop the helper.
 */
export class Sandbox {
  readonly policy: SandboxPolicy;
  private readonly options: SandboxOptions;
  private helper: SandboxHelper | undefined;
  private probe: Promise<SandboxCheck> | undefined;

  constructor(policy: SandboxPolicy, options: SandboxOptions = {}) {
    this.policy = policy;
    this.options = options;
  }

  private get hasNetwork(): boolean {
    return this.policy.network !== false;
  }

  /**
   * Whether level 1 works on this machine: probed once and the answer kept (a failure too,
   * so that a fallback to level 0 does not pay for a helper start at every command).
   */
  check(): Promise<SandboxCheck> {
    this.probe ??= this.runProbe();
    return this.probe;
  }

  private async runProbe(): Promise<SandboxCheck> {
    const runner = level1Runner(process.platform);
    if (!runner) {
      return { ok: false, reason: `sandbox level 1 is not supported on ${process.platform}; use level 0` };
    }
    const helper = await this.helperFor();
    const started = await helper.start();
    if (!started.ok) return { ok: false, reason: explain(started.reason) };
    const result = await this.runWrapped(helper, {
      argv: ["true"],
      cwd: this.policy.writable[0] ?? tmpdir(),
      env: { PATH: "/usr/bin:/bin" },
      timeoutMs: 30_000,
      signal: new AbortController().signal,
    });
    if ("output" in result && result.status === "exited" && result.exitCode === 0)
      return { ok: true, runner };
    const detail =
      "output" in result ? result.output.trim() || `exit code ${result.exitCode}` : result.message;
    return { ok: false, reason: explain(detail) };
  }

  private async helperFor(): Promise<SandboxHelper> {
    if (this.helper) return this.helper;
    const writable = await Promise.all(this.policy.writable.map((p) => realpath(p).catch(() => p)));
    const network = this.policy.network;
    this.helper ??= new SandboxHelper({
      root: writable[0],
      writable,
      network: typeof network === "boolean" ? network : network.allow,
      home: this.options.home ?? homedir(),
      hide: this.policy.hide ?? [],
      reveal: this.policy.reveal ?? [],
      ripgrep: ripgrepCommand(),
      bwrapPath: this.options.bwrapPath,
    });
    return this.helper;
  }

  /**
   * Runs `req.argv` under the policy. Never throws: an unavailable sandbox or a failed
   * spawn is a result status.
   */
  async run(req: RunRequest): Promise<RunResult> {
    const { level, limits } = this.policy;
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
        sandbox: {
          level: 1,
          runner: level1Runner(process.platform) ?? "bubblewrap",
          network: this.hasNetwork,
        },
      };
    }
    return this.runWrapped(await this.helperFor(), { ...req, argv }, check.runner);
  }

  private async runWrapped(
    helper: SandboxHelper,
    req: RunRequest,
    runner: SandboxInfo["runner"] = "bubblewrap",
  ): Promise<RunResult> {
    const sandbox: SandboxInfo = { level: 1, runner, network: this.hasNetwork };
    const wrapped = await helper.wrap(req.argv);
    if ("error" in wrapped)
      return { status: "sandbox_unavailable", message: explain(wrapped.error), sandbox };
    const cwd = await realpath(req.cwd).catch(() => req.cwd);
    try {
      // bubblewrap is this process's child with --die-with-parent, its PID namespace takes
      // everything inside along: no watchdog needed (ADR 1800).
      return await runProcess({ ...req, cwd, argv: wrapped.argv }, sandbox, { lifeline: !wrapped.direct });
    } finally {
      wrapped.release();
    }
  }

  /** Stops the level-1 helper, if one runs. The sandbox can be used again (it starts a new one). */
  close(): void {
    this.helper?.close();
    this.helper = undefined;
    this.probe = undefined;
  }
}

/** A level-1 failure with what to do about it. */
function explain(detail: string): string {
  const hints: string[] = [];
  if (/bwrap|bubblewrap/i.test(detail) && /not found|not installed|ENOENT|not executable/i.test(detail))
    hints.push(
      "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)",
    );
  if (/socat/i.test(detail)) hints.push("install socat (apt-get install socat)");
  if (/ripgrep|\brg\b/i.test(detail)) hints.push("install ripgrep (apt-get install ripgrep)");
  if (/uid map|CAP_SETFCAP|Operation not permitted|namespace/i.test(detail))
    hints.push(
      "bubblewrap cannot create its namespaces here: unprivileged user namespaces may be disabled (kernel.unprivileged_userns_clone, AppArmor's userns restriction), or a root caller lacks CAP_SETFCAP in its bounding set",
    );
  const advice = hints.length > 0 ? ` To use it: ${hints.join("; ")}.` : "";
  return `sandbox level 1 cannot run here: ${detail}.${advice} Or use sandbox level 0.`;
}
