import type { ResourceLimits } from "./types.ts";

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
