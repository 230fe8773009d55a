import { z } from "zod";

/**
 * Sandbox levels for commands and scripts:
 * - 0: a plain subprocess in its own process group, with resource limits (ulimit), a
 *   process-group kill on timeout or abort, and death with the engine's process.
 * - 1: level 0 inside `@anthropic-ai/sandbox-runtime` (bubblewrap and seccomp on Linux,
 *   sandbox-exec on macOS): read-only host with secrets hidden, writable workspace, private
 *   /tmp, no Unix sockets, no new user or mount namespaces, network only through a proxy
 *   that allows the listed domains.
 */
export const SandboxLevel = z.union([z.literal(0), z.literal(1)]);
export type SandboxLevel = z.infer<typeof SandboxLevel>;

/** Per-process limits applied with `ulimit` before the command starts. Absent = unlimited. */
export const ResourceLimits = z.object({
  /** CPU seconds (`ulimit -t`). */
  cpuSeconds: z.number().int().positive().optional(),
  /** Virtual memory in MiB (`ulimit -v`). Note: runtimes such as Node reserve a lot of address space. */
  memoryMb: z.number().int().positive().optional(),
  /** Largest file a process may write, in MiB (`ulimit -f`). */
  fileSizeMb: z.number().int().positive().optional(),
  /** Open file descriptors (`ulimit -n`). */
  openFiles: z.number().int().positive().optional(),
  /** Processes of the user (`ulimit -u`; not enforced for root). */
  processes: z.number().int().positive().optional(),
});
export type ResourceLimits = z.infer<typeof ResourceLimits>;

/**
 * Network at level 1 (level 0 always has the host's network): `false`, none; `{ allow }`,
 * only these domains (`example.com`, `*.example.com`, optional `:port`), through the
 * filtering proxy; `true`, any domain through the proxy. The proxy refuses loopback,
 * link-local and this host's own addresses for names either way.
 */
export const SandboxNetwork = z.union([
  z.boolean(),
  z.strictObject({ allow: z.array(z.string().min(1)).min(1) }),
]);
export type SandboxNetwork = z.infer<typeof SandboxNetwork>;

/** How commands are confined. */
export const SandboxPolicy = z.object({
  level: SandboxLevel,
  /** Paths the command may write at level 1 (the workspace root, caches). Level 0 does not restrict writes. */
  writable: z.array(z.string()),
  network: SandboxNetwork,
  /** Extra paths hidden at level 1 (absolute paths or globs), beside the default secrets. */
  hide: z.array(z.string()).optional(),
  /** Default-hidden paths to show at level 1 after all (absolute paths, as listed in the docs). */
  reveal: z.array(z.string()).optional(),
  limits: ResourceLimits.optional(),
  /**
   * When level 1 is requested but unavailable: `error` (default) refuses to run the command
   * with a message naming what is missing; `level0` runs it at level 0 and says so in the result.
   */
  fallback: z.enum(["error", "level0"]).optional(),
});
export type SandboxPolicy = z.infer<typeof SandboxPolicy>;

/** Which runner actually ran a command: reported in results and tool progress events. */
export interface SandboxInfo {
  readonly level: SandboxLevel;
  /** `bubblewrap` and `sandbox-exec` are the OS mechanisms `@anthropic-ai/sandbox-runtime` uses. */
  readonly runner: "subprocess" | "bubblewrap" | "sandbox-exec";
  /** Whether the command had any network (at level 1: through the filtering proxy). */
  readonly network: boolean;
  /** Set when level 1 was requested and the `level0` fallback ran the command instead. */
  readonly fallbackReason?: string;
}

/** A command to run: an argv (no shell is added), its directory and environment. */
export interface RunRequest {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** 0 = no timeout. */
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** Bytes of combined stdout/stderr kept (head and tail). Default 1 MiB. */
  readonly maxCaptureBytes?: number;
  /** Receives output as it arrives (stdout and stderr interleaved). */
  readonly onOutput?: (chunk: Buffer) => void;
  /** Receives what the command writes to file descriptor 3 (used to report the final cwd). */
  readonly onFd3?: (chunk: Buffer) => void;
  /** Milliseconds between SIGTERM and SIGKILL when stopping the group. Default 2000. */
  readonly killGraceMs?: number;
}

/** How a command ended. Never thrown: every failure is a status. */
export type RunResult =
  | {
      readonly status: "exited" | "timeout" | "aborted";
      readonly exitCode: number | null;
      /** The signal that ended the process, if any. */
      readonly signal: string | null;
      /** Combined stdout and stderr, head and tail kept. */
      readonly output: string;
      /** Bytes dropped from the middle of the output. */
      readonly omittedBytes: number;
      readonly durationMs: number;
      readonly sandbox: SandboxInfo;
    }
  | {
      readonly status: "spawn_failed" | "sandbox_unavailable";
      readonly message: string;
      readonly sandbox: SandboxInfo;
    };

/** The variant of RunResult for a command that never ran. */
export type RunFailure = Extract<RunResult, { readonly message: string }>;

/** True when the command never ran (spawn failed or the sandbox is unavailable). */
export function isRunFailure(result: RunResult): result is RunFailure {
  return "message" in result;
}
