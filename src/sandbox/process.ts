import { spawnGroup } from "./lifeline.ts";
import { HeadTailBuffer } from "./output.ts";
import type { RunRequest, RunResult, SandboxInfo } from "./types.ts";

/**
 * Sends `signal` to every process in the group led by `pid` (the child was spawned
 * detached, so it leads its own group). Missing groups are ignored.
 */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/**
 * Runs an argv in its own process group and collects its output. On timeout or abort the
 * whole group gets SIGTERM, then SIGKILL after a grace period; when the leader exits, any
 * process it left behind in the group is killed too (long-running work belongs in
 * background tasks). The group also dies with this process, however it ends (the lifeline
 * watchdog, see lifeline.ts; `lifeline: false` for a command that dies with this process by
 * itself, see SpawnGroupOptions). Resolves once the process has exited; never rejects.
 */
export function runProcess(
  req: RunRequest,
  sandbox: SandboxInfo,
  options: { readonly lifeline?: boolean } = {},
): Promise<RunResult> {
  const started = performance.now();
  const [file, ...args] = req.argv;
  if (file === undefined) {
    return Promise.resolve({ status: "spawn_failed", message: "empty command", sandbox });
  }
  if (req.signal.aborted) {
    return Promise.resolve({
      status: "aborted",
      exitCode: null,
      signal: null,
      output: "",
      omittedBytes: 0,
      durationMs: 0,
      sandbox,
    });
  }
  return new Promise<RunResult>((resolve) => {
    const output = new HeadTailBuffer(req.maxCaptureBytes ?? 1024 * 1024);
    let ending: "timeout" | "aborted" | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;
    const child = spawnGroup(file, args, {
      cwd: req.cwd,
      env: req.env,
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      ...(options.lifeline === false ? { lifeline: false } : {}),
    });
    const stop = (why: "timeout" | "aborted") => {
      if (ending || child.pid === undefined) return;
      ending = why;
      killGroup(child.pid, "SIGTERM");
      killTimer = setTimeout(
        () => child.pid !== undefined && killGroup(child.pid, "SIGKILL"),
        req.killGraceMs ?? 2000,
      );
    };
    const timer = req.timeoutMs > 0 ? setTimeout(() => stop("timeout"), req.timeoutMs) : undefined;
    const onAbort = () => stop("aborted");
    req.signal.addEventListener("abort", onAbort, { once: true });
    const onData = (chunk: Buffer) => {
      output.write(chunk);
      req.onOutput?.(chunk);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    const fd3 = child.stdio[3] as NodeJS.ReadableStream | null | undefined;
    fd3?.on("data", (chunk: Buffer) => req.onFd3?.(chunk));
    fd3?.on("error", () => {});
    const cleanup = () => {
      if (timer) clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      req.signal.removeEventListener("abort", onAbort);
    };
    child.on("error", (err) => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve({ status: "spawn_failed", message: `cannot start ${file}: ${err.message}`, sandbox });
    });
    child.on("exit", (code, signal) => {
      // Anything the command left running in its group goes with it.
      if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
      const finish = () => {
        if (settled) return;
        settled = true;
        cleanup();
        for (const s of [child.stdout, child.stderr, fd3])
          (s as { destroy?: () => void } | null)?.destroy?.();
        resolve({
          status: ending ?? "exited",
          exitCode: code,
          signal,
          output: output.text(),
          omittedBytes: output.omitted,
          durationMs: Math.round(performance.now() - started),
          sandbox,
        });
      };
      // Let buffered output drain; a process outside the group may hold the pipes open.
      const grace = setTimeout(finish, 500);
      child.on("close", () => {
        clearTimeout(grace);
        finish();
      });
    });
  });
}
