/**
 * The client side of MCP tasks (the 2025-11-25 revision's task-augmented requests, SEP-1686):
 * `tools/call` with `task` answers with a task handle at once; the client follows the task
 * (`tasks/get`, `notifications/tasks/status`), fetches its result (`tasks/result`, which also
 * carries the server's questions while the task waits on input) and cancels it
 * (`tasks/cancel`) on an interrupt or a timeout.
 *
 * The SDK v2 keeps these messages' schemas but has no runtime for them (and its 2026-07-28
 * codec removes `execution.taskSupport` and `capabilities.tasks`), so the requests are sent
 * here with explicit result schemas. The 2026-07-28 Tasks extension (SEP-2663) is not spoken.
 */
import {
  type CallToolResult,
  type Client,
  SdkHttpError,
  type Tool as SdkTool,
  specTypeSchemas,
} from "@modelcontextprotocol/client";
import { describeError } from "../errors.ts";

/** A task as the server reports it. */
export interface McpTaskState {
  readonly taskId: string;
  readonly status: "working" | "input_required" | "completed" | "failed" | "cancelled";
  readonly statusMessage?: string | undefined;
  readonly ttl?: number | null | undefined;
  readonly pollInterval?: number | undefined;
}

/** What a task-backed call reports and how it waits. */
export interface TaskCallHooks {
  /** Follow this task instead of creating one (a call resumed after a restart). */
  readonly resumeTaskId?: string | undefined;
  /** How long the server should keep the task and its result, in ms. */
  readonly ttlMs: number;
  /** The task exists: record it durably before anything else happens. */
  readonly onCreated: (task: McpTaskState) => Promise<void>;
  /** The task's status or message changed. */
  readonly onStatus: (task: McpTaskState) => void;
  /**
   * Waits for `follow` (which fetches the result). The engine's tools park here, so a
   * restart resumes the call; without it, `follow()` is awaited directly.
   */
  readonly wait: (follow: () => Promise<CallToolResult>) => Promise<CallToolResult>;
}

/** A task the server no longer knows (expired, or gone with the server's process). */
export class McpTaskLostError extends Error {
  override readonly name = "McpTaskLostError";
}

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const CANCEL_WAIT_MS = 5_000;
const MIN_POLL_MS = 250;
const DEFAULT_POLL_MS = 1_000;
// A task's result may take as long as the call's own timer allows; the SDK's timer is not used.
const NO_SDK_TIMEOUT = 24 * 60 * 60 * 1000;

/**
 * How a tool may run as a task on this connection: `required` / `optional` when the server
 * offers tasks for `tools/call` and the tool allows them, else undefined (a plain call).
 */
export function taskSupportOf(
  client: Client | undefined,
  tool: SdkTool,
): "required" | "optional" | undefined {
  const offered = (
    client?.getServerCapabilities() as { tasks?: { requests?: { tools?: { call?: unknown } } } }
  )?.tasks?.requests?.tools?.call;
  const support = tool.execution?.taskSupport;
  if (offered === undefined || (support !== "required" && support !== "optional")) return undefined;
  return support;
}

/** Watches `notifications/tasks/status` for the tasks being followed on one client. */
export class TaskWatch {
  private readonly watchers = new Map<string, (task: McpTaskState) => void>();

  /** Hands a status notification to whoever follows its task. */
  deliver(params: unknown): void {
    const task = parseTask(params);
    if (task) this.watchers.get(task.taskId)?.(task);
  }

  /** Calls `fn` for each status notification of `taskId` until the returned function is called. */
  watch(taskId: string, fn: (task: McpTaskState) => void): () => void {
    this.watchers.set(taskId, fn);
    return () => {
      if (this.watchers.get(taskId) === fn) this.watchers.delete(taskId);
    };
  }
}

/**
 * Runs one tool call as a task: creates it (or takes `hooks.resumeTaskId`), follows it until it
 * ends and returns its result. An abort of `signal` cancels the task on the server (waiting at
 * most 5 s for the answer) before rejecting. `reconnect` replaces a client whose HTTP session
 * expired before the task was created.
 */
export async function callAsTask(
  client: Client,
  watch: TaskWatch,
  tool: SdkTool,
  args: Record<string, unknown>,
  signal: AbortSignal,
  hooks: TaskCallHooks,
  reconnect?: (client: Client) => Promise<Client>,
): Promise<CallToolResult> {
  // The creating request is retried once on an expired HTTP session (the server never saw
  // it); nothing after the task exists is, since a task is never created twice.
  let created = hooks.resumeTaskId !== undefined;
  const tracked: TaskCallHooks = {
    ...hooks,
    onCreated: async (task) => {
      created = true;
      await hooks.onCreated(task);
    },
  };
  try {
    return await runTask(client, watch, tool, args, signal, tracked);
  } catch (err) {
    if (created || !reconnect || !(err instanceof SdkHttpError && err.status === 404)) throw err;
    return runTask(await reconnect(client), watch, tool, args, signal, tracked);
  }
}

async function runTask(
  client: Client,
  watch: TaskWatch,
  tool: SdkTool,
  args: Record<string, unknown>,
  signal: AbortSignal,
  hooks: TaskCallHooks,
): Promise<CallToolResult> {
  let taskId = hooks.resumeTaskId;
  let pollMs = DEFAULT_POLL_MS;
  if (taskId === undefined) {
    const created = await client.request(
      { method: "tools/call", params: { name: tool.name, arguments: args, task: { ttl: hooks.ttlMs } } },
      specTypeSchemas.CreateTaskResult,
      { signal, timeout: NO_SDK_TIMEOUT },
    );
    const task = parseTask((created as { task?: unknown }).task);
    if (!task)
      throw new Error(`the server answered a task-augmented call without a task: ${JSON.stringify(created)}`);
    taskId = task.taskId;
    pollMs = task.pollInterval ?? pollMs;
    await hooks.onCreated(task);
    hooks.onStatus(task);
  }
  const id = taskId;
  return hooks.wait(() => follow(client, watch, id, signal, pollMs, hooks));
}

async function follow(
  client: Client,
  watch: TaskWatch,
  taskId: string,
  signal: AbortSignal,
  pollMs: number,
  hooks: TaskCallHooks,
): Promise<CallToolResult> {
  let last = "";
  let ended: McpTaskState | undefined;
  const seen = (task: McpTaskState) => {
    const key = `${task.status}\n${task.statusMessage ?? ""}`;
    if (TERMINAL.has(task.status)) ended = task;
    if (key === last) return;
    last = key;
    hooks.onStatus(task);
  };
  const stopWatch = watch.watch(taskId, seen);
  const done = new AbortController();
  const onAbort = () => done.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    // The first look also tells a resumed call whether the server still has the task.
    const first = await getTask(client, taskId, signal);
    if (!first) throw new McpTaskLostError(`task ${taskId} is no longer known to the server`);
    seen(first);
    void poll(client, taskId, Math.max(MIN_POLL_MS, first.pollInterval ?? pollMs), done.signal, seen);
    // tasks/result waits until the task ends and carries the server's questions meanwhile.
    const raw = await client.request(
      { method: "tasks/result", params: { taskId } },
      specTypeSchemas.GetTaskPayloadResult,
      { signal, timeout: NO_SDK_TIMEOUT },
    );
    const final = ended ?? (await getTask(client, taskId, signal).catch(() => undefined));
    if (final) seen(final);
    if (final?.status === "cancelled") throw new Error(`the server cancelled task ${taskId}`);
    return raw as CallToolResult;
  } catch (err) {
    if (signal.aborted) await cancelTask(client, taskId);
    throw err;
  } finally {
    done.abort();
    signal.removeEventListener("abort", onAbort);
    stopWatch();
  }
}

/** Polls `tasks/get` until `stop` aborts (status notifications are optional for servers). */
async function poll(
  client: Client,
  taskId: string,
  everyMs: number,
  stop: AbortSignal,
  seen: (task: McpTaskState) => void,
): Promise<void> {
  while (!stop.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, everyMs);
      stop.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
    if (stop.aborted) return;
    const task = await getTask(client, taskId, stop).catch(() => undefined);
    if (task && !stop.aborted) seen(task);
    if (!task || TERMINAL.has(task.status)) return;
  }
}

/** The task, or undefined when the server says it does not know it. */
async function getTask(
  client: Client,
  taskId: string,
  signal: AbortSignal,
): Promise<McpTaskState | undefined> {
  try {
    const raw = await client.request(
      { method: "tasks/get", params: { taskId } },
      specTypeSchemas.GetTaskResult,
      {
        signal,
      },
    );
    return parseTask(raw);
  } catch (err) {
    if (/not found|unknown task|no task/i.test(describeError(err))) return undefined;
    throw err;
  }
}

/** Asks the server to cancel a task; never rejects (the call is being abandoned anyway). */
export async function cancelTask(client: Client, taskId: string): Promise<boolean> {
  try {
    await client.request({ method: "tasks/cancel", params: { taskId } }, specTypeSchemas.CancelTaskResult, {
      signal: AbortSignal.timeout(CANCEL_WAIT_MS),
    });
    return true;
  } catch {
    return false;
  }
}

function parseTask(raw: unknown): McpTaskState | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const t = raw as Record<string, unknown>;
  if (typeof t.taskId !== "string" || typeof t.status !== "string") return undefined;
  if (!["working", "input_required", "completed", "failed", "cancelled"].includes(t.status)) return undefined;
  return {
    taskId: t.taskId,
    status: t.status as McpTaskState["status"],
    ...(typeof t.statusMessage === "string" ? { statusMessage: t.statusMessage } : {}),
    ...(typeof t.ttl === "number" || t.ttl === null ? { ttl: t.ttl as number | null } : {}),
    ...(typeof t.pollInterval === "number" ? { pollInterval: t.pollInterval } : {}),
  };
}
