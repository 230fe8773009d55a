import type { ResourceLimits } from "./types.ts";

/**
 * Argument builders for the sandbox runners: pure functions, so what we would run can be
 * checked on any platform.
 */

/**
 * Wraps an argv so that it starts under `ulimit` limits (bash units: KiB for -v and -f).
 * Returns the argv unchanged when no limit is set.
 */
export function withLimits(
  argv: readonly string[],
  limits: ResourceLimits | undefined,
  bash = "/bin/bash",
): string[] {
  const lines: string[] = [];
  if (limits?.cpuSeconds) lines.push(`ulimit -t ${limits.cpuSeconds}`);
  if (limits?.memoryMb) lines.push(`ulimit -v ${limits.memoryMb * 1024}`);
  if (limits?.fileSizeMb) lines.push(`ulimit -f ${limits.fileSizeMb * 1024}`);
  if (limits?.openFiles) lines.push(`ulimit -n ${limits.openFiles}`);
  if (limits?.processes) lines.push(`ulimit -u ${limits.processes}`);
  if (lines.length === 0) return [...argv];
  // `exec "$@"` replaces the limiting shell, so the limits apply to the command itself.
  return [bash, "-c", `${lines.join(" && ")} && exec "$@"`, "taifeng-limits", ...argv];
}

/** What a level-1 Linux sandbox allows. */
export interface BwrapOptions {
  /** Paths bound read-write (created beforehand; must exist). */
  readonly writable: readonly string[];
  readonly network: boolean;
  readonly cwd: string;
}

/**
 * bubblewrap arguments: the host root read-only, fresh /dev, /proc and a private /tmp,
 * the writable paths bound read-write on top, every namespace unshared (network too
 * unless allowed), a new session (no terminal injection) and death with the parent.
 */
export function bwrapArgs(options: BwrapOptions, argv: readonly string[]): string[] {
  const args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"];
  for (const path of options.writable) args.push("--bind", path, path);
  args.push("--unshare-all");
  if (options.network) args.push("--share-net");
  args.push("--die-with-parent", "--new-session", "--chdir", options.cwd, "--", ...argv);
  return args;
}

function sbString(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/**
 * A macOS Seatbelt profile for `sandbox-exec -p`: everything allowed except writes outside
 * the writable paths and the system temp directories, and (unless allowed) network access
 * other than local Unix sockets.
 */
export function seatbeltProfile(options: { writable: readonly string[]; network: boolean }): string {
  const writable = [...options.writable, "/private/tmp", "/private/var/folders", "/dev"];
  const lines = [
    "(version 1)",
    "(allow default)",
    "(deny file-write*)",
    `(allow file-write* ${writable.map((p) => `(subpath ${sbString(p)})`).join(" ")})`,
  ];
  if (!options.network)
    lines.push("(deny network*)", '(allow network* (remote unix-socket (path-regex #"^/")))');
  return lines.join("\n");
}

/** `sandbox-exec` arguments for an argv under `seatbeltProfile`. */
export function sandboxExecArgs(
  options: { writable: readonly string[]; network: boolean },
  argv: readonly string[],
): string[] {
  return ["-p", seatbeltProfile(options), ...argv];
}
