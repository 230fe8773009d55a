import { type ChildProcess, type IOType, type SpawnOptions, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import type { Stream } from "node:stream";

/**
 * Tool processes must not outlive the engine that started them, also when the engine's
 * process dies without running any cleanup (kill -9, a second Ctrl-C, an OOM kill). Each
 * command therefore starts in its own process group next to a watchdog: a shell that reads
 * the "lifeline", a pipe whose other end only the engine's process holds. The engine never
 * writes to it; when its process is gone the kernel closes that end, the read returns, and
 * the watchdog kills the whole group with SIGKILL. The watchdog ignores SIGTERM, SIGINT and
 * SIGHUP so that a graceful stop of the group cannot remove it before the command is gone.
 *
 * Processes that leave the group (`setsid`, a shell's job control) are beyond its reach at
 * level 0; at level 1 the sandbox's PID namespace takes them down with it.
 */

/** The file descriptor on which the watchdog reads the lifeline. */
export const LIFELINE_FD = 4;

// The watchdog is started from a subshell that exits at once, so it is not a child of the
// command (a command that waits for all its children must not wait for it).
const WATCHDOG = [
  `( { trap '' TERM INT HUP; read -r _ <&${LIFELINE_FD}; kill -KILL 0; } </dev/null >/dev/null 2>&1 3>&- & )`,
  `exec "$@" ${LIFELINE_FD}<&-`,
].join("\n");

/** `argv` behind the watchdog: run it with the lifeline on fd 4, as a process group leader. */
export function lifelineArgv(argv: readonly string[]): string[] {
  return ["/bin/sh", "-c", WATCHDOG, "taifeng-lifeline", ...argv];
}

/** True when `file` names an executable, directly (with a slash, from `cwd`) or through `PATH`. */
export function canExecute(file: string, path: string | undefined, cwd = "."): boolean {
  const candidates = file.includes("/")
    ? [isAbsolute(file) ? file : join(cwd, file)]
    : (path ?? "").split(delimiter).map((dir) => join(dir === "" ? cwd : dir, file));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** One stdio entry of `spawn`. */
export type StdioEntry = IOType | Stream | number | null | undefined;

/** Options for `spawnGroup`: those of `spawn`, with stdio for file descriptors 0 to 3. */
export interface SpawnGroupOptions extends Omit<SpawnOptions, "stdio" | "detached"> {
  readonly stdio: readonly [StdioEntry, StdioEntry, StdioEntry, StdioEntry?];
  /**
   * `false`: no watchdog, for a `file` that dies with this process by itself. Only the
   * level-1 sandbox sets it: there `file` execs straight into bubblewrap, a child of this
   * process run with `--die-with-parent`, whose PID namespace takes everything inside with it.
   */
  readonly lifeline?: boolean;
}

/**
 * Spawns `file args` as the leader of a new process group that dies with this process (see
 * above). When the leader exits, whatever is left in its group (the watchdog included) is
 * killed, so `close` follows `exit` as usual. On Windows, or when `file` cannot be found, it
 * is spawned directly (a missing file then fails with the usual `error` event). Kill the
 * group with `process.kill(-pid, signal)`.
 */
export function spawnGroup(file: string, args: readonly string[], options: SpawnGroupOptions): ChildProcess {
  const { lifeline, ...spawnOptions } = options;
  const [stdin, stdout, stderr, fd3] = options.stdio;
  const posix = process.platform !== "win32";
  const envPath = options.env ? options.env.PATH : process.env.PATH;
  const cwd = typeof options.cwd === "string" ? options.cwd : options.cwd?.pathname;
  if (!posix || lifeline === false || !canExecute(file, envPath, cwd)) {
    return spawn(file, [...args], {
      ...spawnOptions,
      detached: posix,
      stdio: [stdin, stdout, stderr, fd3 ?? "ignore"],
    });
  }
  const [sh, ...rest] = lifelineArgv([file, ...args]);
  const child = spawn(sh as string, rest, {
    ...spawnOptions,
    detached: true,
    stdio: [stdin, stdout, stderr, fd3 ?? "ignore", "pipe"],
  });
  child.once("exit", () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {
      // the group is gone already
    }
    (child.stdio[LIFELINE_FD] as { destroy?: () => void } | null | undefined)?.destroy?.();
  });
  return child;
}
