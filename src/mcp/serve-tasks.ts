/**
 * The server side of MCP tasks (2025-11-25, SEP-1686) for `taifeng mcp serve` and
 * `createMcpServer`: a skill run a client asked to run as a task (`tools/call` with `task`)
 * answers at once with a task handle and runs on; `tasks/get` reports its status (the latest
 * step of the run), `tasks/result` waits for its result, `tasks/list` lists the tasks,
 * `tasks/cancel` stops the run. Status changes are also sent as `notifications/tasks/status`
 * where the connection stays open (stdio; over HTTP clients poll).
 *
 * Tasks live in a `McpTaskStore` shared by every server instance of a host (the HTTP handler
 * makes one instance per request), so any request that can reach the server can follow them:
 * task ids are random UUIDs, and the HTTP server's bearer token is the only principal.
 */
import { randomUUID } from "node:crypto";
import {
  type CallToolResult,
  type McpServer,
  ProtocolError,
  ProtocolErrorCode,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import { describeError } from "../errors.ts";

/** A task's status, as the protocol names it. */
export type McpServedTaskStatus = "working" | "input_required" | "completed" | "failed" | "cancelled";

/** A task as `tasks/get` reports it. */
export interface McpServedTask {
  readonly taskId: string;
  readonly status: McpServedTaskStatus;
  readonly statusMessage?: string;
  readonly createdAt: string;
  readonly lastUpdatedAt: string;
  readonly ttl: number;
  readonly pollInterval: number;
}

interface Entry {
  task: McpServedTask;
  result: CallToolResult | undefined;
  error: string | undefined;
  readonly controller: AbortController;
  /** Resolves when the task reaches a terminal status. */
  readonly ended: Promise<void>;
  readonly end: () => void;
  expiry: NodeJS.Timeout | undefined;
}

const DEFAULT_TTL_MS = 10 * 60_000;
const MIN_TTL_MS = 60_000;
const MAX_TTL_MS = 24 * 60 * 60_000;
const POLL_MS = 1000;
const TERMINAL = new Set<McpServedTaskStatus>(["completed", "failed", "cancelled"]);

/** Options for `McpTaskStore`. */
export interface McpTaskStoreOptions {
  /** Most tasks running at once; a task asked beyond it is refused. Default 16. */
  readonly maxRunning?: number;
  /** Longest a finished task's result is kept, whatever the client asked. Default 24 h. */
  readonly maxTtlMs?: number;
}

/** The tasks of one served host. `close()` stops every running task. */
export class McpTaskStore {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(task: McpServedTask) => void>();
  private readonly maxRunning: number;
  private readonly maxTtlMs: number;

  constructor(options: McpTaskStoreOptions = {}) {
    this.maxRunning = options.maxRunning ?? 16;
    this.maxTtlMs = options.maxTtlMs ?? MAX_TTL_MS;
  }

  /** How many tasks are running. */
  get running(): number {
    let n = 0;
    for (const e of this.entries.values()) if (!TERMINAL.has(e.task.status)) n++;
    return n;
  }

  /**
   * Starts `run` as a task kept `ttlMs` after it ends (clamped to 1 min .. `maxTtlMs`; default
   * 10 min). `run` reports status messages through `status` and stops when its signal aborts.
   */
  start(
    run: (signal: AbortSignal, status: (message: string) => void) => Promise<CallToolResult>,
    ttlMs: number | undefined,
  ): McpServedTask {
    if (this.running >= this.maxRunning)
      throw new ProtocolError(
        ProtocolErrorCode.InvalidRequest,
        `too many tasks running (${this.maxRunning}); wait for one to end or cancel one`,
      );
    const now = new Date().toISOString();
    const ttl = Math.min(this.maxTtlMs, Math.max(MIN_TTL_MS, ttlMs ?? DEFAULT_TTL_MS));
    const taskId = randomUUID();
    const controller = new AbortController();
    let end = () => {};
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    const entry: Entry = {
      task: { taskId, status: "working", createdAt: now, lastUpdatedAt: now, ttl, pollInterval: POLL_MS },
      result: undefined,
      error: undefined,
      controller,
      ended,
      end,
      expiry: undefined,
    };
    this.entries.set(taskId, entry);
    void run(controller.signal, (message) => {
      if (!TERMINAL.has(entry.task.status)) this.update(entry, "working", message);
    }).then(
      (result) => {
        if (TERMINAL.has(entry.task.status)) return;
        entry.result = result;
        this.update(entry, "completed", entry.task.statusMessage);
      },
      (err: unknown) => {
        if (TERMINAL.has(entry.task.status)) return;
        entry.error = describeError(err);
        this.update(entry, "failed", entry.error);
      },
    );
    return entry.task;
  }

  /** A task by id, or undefined. */
  get(taskId: string): McpServedTask | undefined {
    return this.entries.get(taskId)?.task;
  }

  /** Every task, oldest first. */
  list(): McpServedTask[] {
    return [...this.entries.values()].map((e) => e.task);
  }

  /** Waits until the task ends (or `signal` aborts), then gives its result. */
  async result(taskId: string, signal: AbortSignal): Promise<CallToolResult> {
    const entry = this.need(taskId);
    if (!TERMINAL.has(entry.task.status))
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal.reason ?? new Error("cancelled"));
        if (signal.aborted) return onAbort();
        signal.addEventListener("abort", onAbort, { once: true });
        void entry.ended.then(() => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        });
      });
    const meta = { _meta: { "io.modelcontextprotocol/related-task": { taskId } } };
    if (entry.task.status === "completed" && entry.result) return { ...entry.result, ...meta };
    if (entry.task.status === "cancelled")
      throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `task ${taskId} was cancelled`);
    throw new ProtocolError(
      ProtocolErrorCode.InternalError,
      `task ${taskId} failed: ${entry.error ?? "unknown error"}`,
    );
  }

  /** Cancels a running task; refuses a task that already ended. */
  cancel(taskId: string): McpServedTask {
    const entry = this.need(taskId);
    if (TERMINAL.has(entry.task.status))
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `task ${taskId} already ended (${entry.task.status}) and cannot be cancelled`,
      );
    this.update(entry, "cancelled", "cancelled by the client");
    entry.controller.abort(new Error("the task was cancelled"));
    return entry.task;
  }

  /** Calls `fn` on every status change; returns the function that stops it. */
  onStatus(fn: (task: McpServedTask) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Stops every running task and forgets every task. */
  close(): void {
    for (const e of this.entries.values()) {
      if (!TERMINAL.has(e.task.status)) e.controller.abort(new Error("the server is closing"));
      e.end();
      if (e.expiry) clearTimeout(e.expiry);
    }
    this.entries.clear();
    this.listeners.clear();
  }

  private need(taskId: string): Entry {
    const entry = this.entries.get(taskId);
    if (!entry) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Task not found: ${taskId}`);
    return entry;
  }

  private update(entry: Entry, status: McpServedTaskStatus, message: string | undefined): void {
    entry.task = {
      ...entry.task,
      status,
      ...(message !== undefined ? { statusMessage: message } : {}),
      lastUpdatedAt: new Date().toISOString(),
    };
    if (TERMINAL.has(status)) {
      entry.end();
      entry.expiry = setTimeout(() => this.entries.delete(entry.task.taskId), entry.task.ttl);
      entry.expiry.unref();
    }
    for (const fn of this.listeners) fn(entry.task);
  }
}

const TaskIdParams = z.looseObject({ taskId: z.string() });

/**
 * Registers `tasks/get`, `tasks/result`, `tasks/list` and `tasks/cancel` on `server` (served
 * from `store`), announces the capability, and forwards status changes as
 * `notifications/tasks/status` while the server is connected. Returns the function that stops
 * the forwarding.
 */
export function serveTasks(server: McpServer, store: McpTaskStore): () => void {
  const low = server.server;
  low.registerCapabilities({ tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } } as never);
  low.setRequestHandler("tasks/get", { params: TaskIdParams }, async (params) => {
    const task = store.get(params.taskId);
    if (!task) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Task not found: ${params.taskId}`);
    return { ...task };
  });
  low.setRequestHandler("tasks/result", { params: TaskIdParams }, async (params, ctx) =>
    store.result(params.taskId, ctx.mcpReq.signal),
  );
  low.setRequestHandler("tasks/list", { params: z.looseObject({}).optional() }, async () => ({
    tasks: store.list(),
  }));
  low.setRequestHandler("tasks/cancel", { params: TaskIdParams }, async (params) => ({
    ...store.cancel(params.taskId),
  }));
  const stop = store.onStatus((task) => {
    // A closed server (over HTTP, one per request) stops listening at the next change.
    if (!low.transport) return void stop();
    void low
      .notification({ method: "notifications/tasks/status", params: { ...task } })
      .catch(() => undefined);
  });
  return stop;
}

/** Runs one task-capable tool's call as a task: checks the arguments, then does the work. */
export type TaskRunner = (
  args: Record<string, unknown>,
) => (signal: AbortSignal, status: (message: string) => void) => Promise<CallToolResult>;

type Handler = (request: { params?: Record<string, unknown> }, ctx: unknown) => Promise<unknown>;

/**
 * Makes `tools/call` with a `task` parameter start a task for the tools in `runners` (and
 * answer with the task handle); every other call goes to McpServer's own handler unchanged.
 * Uses the SDK server's `_wrapHandler` seam (the hook it documents for role-specific
 * wrapping): its tools/call wrapper validates every answer as a CallToolResult, which a task
 * handle is not. Call before the first tool is registered.
 */
export function routeTaskCalls(
  server: McpServer,
  store: McpTaskStore,
  runners: ReadonlyMap<string, TaskRunner>,
): void {
  const low = server.server as unknown as { _wrapHandler: (method: string, handler: Handler) => Handler };
  const wrap = low._wrapHandler.bind(low);
  low._wrapHandler = (method, handler) => {
    const wrapped = wrap(method, handler);
    if (method !== "tools/call") return wrapped;
    return async (request, ctx) => {
      const params = request.params ?? {};
      const runner = typeof params.name === "string" ? runners.get(params.name) : undefined;
      const task = params.task as { ttl?: unknown } | undefined;
      if (!runner || typeof task !== "object" || task === null) return wrapped(request, ctx);
      const args = (params.arguments ?? {}) as Record<string, unknown>;
      const run = runner(args);
      return { task: { ...store.start(run, typeof task.ttl === "number" ? task.ttl : undefined) } };
    };
  };
}
