import { randomBytes } from "node:crypto";
import { OutputLog } from "../../../sandbox/output.ts";
import type { Sandbox } from "../../../sandbox/sandbox.ts";
import { isRunFailure, type RunResult } from "../../../sandbox/types.ts";

/** A command running in the background. */
export interface TaskInfo {
  readonly id: string;
  readonly command: string;
  readonly cwd: string;
  readonly startedAt: number;
  status: "running" | "exited" | "killed" | "failed";
  exitCode: number | null;
  /** Why it failed to start, or how it ended. */
  detail: string;
}

interface Task {
  readonly info: TaskInfo;
  readonly log: OutputLog;
  readonly controller: AbortController;
  readonly done: Promise<void>;
  /** Output offset the model has read up to. */
  readOffset: number;
  wake: (() => void) | undefined;
}

/** What a poll returns. */
export interface TaskOutput {
  readonly info: TaskInfo;
  readonly text: string;
  /** Bytes written since the last read that were already dropped from the window. */
  readonly dropped: number;
}

/**
 * Long-running commands per thread (dev servers, watchers, builds). A task is not tied to
 * the tool call or the turn that started it: it runs until it exits, is killed, or the
 * manager is disposed. Its output is kept in a bounded window and read incrementally.
 */
export class BackgroundTasks {
  private readonly maxPerThread: number;
  private readonly outputBytes: number;
  private readonly tasks = new Map<string, Map<string, Task>>();

  constructor(options: { maxPerThread: number; outputBytes: number }) {
    this.maxPerThread = options.maxPerThread;
    this.outputBytes = options.outputBytes;
  }

  private of(threadId: string): Map<string, Task> {
    let map = this.tasks.get(threadId);
    if (!map) {
      map = new Map();
      this.tasks.set(threadId, map);
    }
    return map;
  }

  /** Starts a task, or returns why it cannot start (too many running). */
  start(
    threadId: string,
    spec: { command: string; argv: string[]; cwd: string; env: Record<string, string>; sandbox: Sandbox },
  ): TaskInfo | string {
    const mine = this.of(threadId);
    const running = [...mine.values()].filter((t) => t.info.status === "running").length;
    if (running >= this.maxPerThread) {
      return `${running} background tasks are already running (the limit is ${this.maxPerThread}). Kill one with bash_kill first.`;
    }
    const id = `bg_${randomBytes(4).toString("hex")}`;
    const info: TaskInfo = {
      id,
      command: spec.command,
      cwd: spec.cwd,
      startedAt: Date.now(),
      status: "running",
      exitCode: null,
      detail: "",
    };
    const log = new OutputLog(this.outputBytes);
    const controller = new AbortController();
    const task: Task = { info, log, controller, done: Promise.resolve(), readOffset: 0, wake: undefined };
    const notify = () => {
      const wake = task.wake;
      task.wake = undefined;
      wake?.();
    };
    const done = spec.sandbox
      .run({
        argv: spec.argv,
        cwd: spec.cwd,
        env: spec.env,
        timeoutMs: 0,
        signal: controller.signal,
        maxCaptureBytes: 1024,
        onOutput: (chunk) => {
          log.write(chunk);
          notify();
        },
      })
      .then((result: RunResult) => {
        if (isRunFailure(result)) {
          info.status = "failed";
          info.detail = result.message;
        } else {
          info.status = result.status === "aborted" ? "killed" : "exited";
          info.exitCode = result.exitCode;
          info.detail = result.signal ? `signal ${result.signal}` : `exit code ${result.exitCode}`;
        }
        notify();
      });
    (task as { done: Promise<void> }).done = done;
    mine.set(id, task);
    return info;
  }

  /** Tasks of a thread, oldest first. */
  list(threadId: string): TaskInfo[] {
    return [...this.of(threadId).values()].map((t) => t.info);
  }

  /**
   * Output written since the last read. When there is none yet and the task is running,
   * waits up to `waitMs` for some (or for the task to end).
   */
  async read(
    threadId: string,
    id: string,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<TaskOutput | undefined> {
    const task = this.of(threadId).get(id);
    if (!task) return undefined;
    if (task.log.total === task.readOffset && task.info.status === "running" && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, waitMs);
        function finish() {
          clearTimeout(timer);
          signal.removeEventListener("abort", finish);
          resolve();
        }
        signal.addEventListener("abort", finish, { once: true });
        task.wake = finish;
      });
    }
    const { text, next, dropped } = task.log.readSince(task.readOffset);
    task.readOffset = next;
    return { info: task.info, text, dropped };
  }

  /** Kills a task's process group; resolves when it has ended. Undefined for an unknown id. */
  async kill(threadId: string, id: string): Promise<TaskInfo | undefined> {
    const task = this.of(threadId).get(id);
    if (!task) return undefined;
    task.controller.abort();
    await task.done;
    return task.info;
  }

  /** Kills every task of every thread and waits for them to end. */
  async dispose(): Promise<void> {
    const all = [...this.tasks.values()].flatMap((m) => [...m.values()]);
    for (const t of all) t.controller.abort();
    await Promise.all(all.map((t) => t.done));
  }
}
