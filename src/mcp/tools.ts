/** MCP tools as Taifeng tools: names, schemas, hints, filters, timeouts and results. */
import { createHash } from "node:crypto";
import { type Tool as SdkTool, UnauthorizedError } from "@modelcontextprotocol/client";
import { describeError } from "../errors.ts";
import type { JsonSchema, ParseResult, Tool, ToolContext } from "../tool/define.ts";
import { type CallScope, canonical, type McpConnection, McpUnavailableError } from "./connection.ts";
import { callError, toToolOutput } from "./results.ts";
import { type McpTaskLedger, memoryTaskLedger, taskKey } from "./task-ledger.ts";
import { McpTaskLostError, type McpTaskState, type TaskCallHooks } from "./tasks.ts";

/** Where an MCP-backed tool came from, for hosts and `taifeng mcp ls`. */
export interface McpToolOrigin {
  readonly server: string;
  /** The tool's name on the server. */
  readonly tool: string;
  /** The server's annotations, as given (untrusted hints). */
  readonly annotations?: SdkTool["annotations"];
  /** The server's output schema, when it declares one (results then carry `structuredContent`). */
  readonly outputSchema?: SdkTool["outputSchema"];
}

/** A Taifeng tool backed by an MCP server's tool. */
export interface McpTool extends Tool<Record<string, unknown>> {
  readonly mcp: McpToolOrigin;
}

const MAX_NAME = 64;
const DEFAULT_TIMEOUT_MS = 120_000;

/**
 * `mcp__<server>__<tool>`, with characters providers reject replaced by `_` and names over 64
 * characters cut and suffixed with a hash of the original (so the result stays unique).
 */
export function mcpToolName(server: string, tool: string): string {
  const name = `mcp__${server}__${tool.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
  if (name.length <= MAX_NAME) return name;
  return `${name.slice(0, MAX_NAME - 7)}_${shortHash(tool)}`;
}

function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 6);
}

/** True when `name` matches `pattern` (`*` matches any run of characters). */
export function matchesPattern(pattern: string, name: string): boolean {
  if (!pattern.includes("*")) return pattern === name;
  const re = new RegExp(
    `^${pattern
      .split("*")
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  return re.test(name);
}

/** Applies a server's `allowedTools` / `disabledTools` to its tool list. */
export function filterTools(
  tools: readonly SdkTool[],
  allowed: readonly string[] | undefined,
  disabled: readonly string[] | undefined,
): SdkTool[] {
  return tools.filter(
    (t) =>
      (allowed === undefined || allowed.some((p) => matchesPattern(p, t.name))) &&
      !(disabled ?? []).some((p) => matchesPattern(p, t.name)),
  );
}

/**
 * Taifeng names for a server's tools. Tools are taken in name order, so when two server
 * names sanitize to the same Taifeng name, the first keeps it and the next gets a hash
 * suffix: the same list always yields the same names.
 */
export function assignNames(server: string, tools: readonly SdkTool[]): Map<SdkTool, string> {
  const out = new Map<SdkTool, string>();
  const taken = new Set<string>();
  for (const tool of [...tools].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    let name = mcpToolName(server, tool.name);
    if (taken.has(name)) name = `${name.slice(0, MAX_NAME - 7)}_${shortHash(tool.name)}`;
    taken.add(name);
    out.set(tool, name);
  }
  return out;
}

/** Builds one Taifeng tool for one server tool. */
export function mcpTool(
  conn: McpConnection,
  def: SdkTool,
  name: string,
  onFailure?: (turnId: string) => void,
  ledger: McpTaskLedger = memoryTaskLedger(),
): McpTool {
  const config = conn.entry.config;
  const readOnlyHint = def.annotations?.readOnlyHint === true;
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const parameters = inputSchema(def);
  const required = Array.isArray(parameters.required) ? (parameters.required as string[]) : [];
  return {
    name,
    description: def.description?.trim() || def.title || `The ${def.name} tool of MCP server ${conn.name}.`,
    parameters,
    // A server's hints cannot loosen permissions unless the operator trusts its annotations.
    readOnly: config.trustAnnotations === true && readOnlyHint,
    concurrencySafe: readOnlyHint,
    // The call keeps its own timer, which stops while the server waits on a person.
    timeoutMs: 0,
    mcp: {
      server: conn.name,
      tool: def.name,
      ...(def.annotations ? { annotations: def.annotations } : {}),
      ...(def.outputSchema ? { outputSchema: def.outputSchema } : {}),
    },
    parse(input: unknown): ParseResult<Record<string, unknown>> {
      if (typeof input !== "object" || input === null || Array.isArray(input))
        return { ok: false, message: `Invalid input for tool ${name}: the arguments must be a JSON object.` };
      const missing = required.filter((k) => !(k in input));
      if (missing.length > 0)
        return {
          ok: false,
          message: `Invalid input for tool ${name}:\n${missing.map((k) => `- ${k}: required`).join("\n")}\nFix the arguments and call the tool again.`,
        };
      return { ok: true, value: input as Record<string, unknown> };
    },
    execute: (input, ctx) => runCall(conn, def, input, ctx, timeoutMs, onFailure, ledger),
  };
}

function inputSchema(def: SdkTool): JsonSchema {
  const schema: JsonSchema = { ...(def.inputSchema as JsonSchema) };
  delete schema.$schema;
  schema.type = "object";
  if (schema.properties === undefined) schema.properties = {};
  return schema;
}

async function runCall(
  conn: McpConnection,
  def: SdkTool,
  input: Record<string, unknown>,
  ctx: ToolContext,
  timeoutMs: number,
  onFailure: ((turnId: string) => void) | undefined,
  ledger: McpTaskLedger,
) {
  const controller = new AbortController();
  const onAbort = () => controller.abort(ctx.signal.reason);
  if (ctx.signal.aborted) onAbort();
  else ctx.signal.addEventListener("abort", onAbort, { once: true });
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error("timeout"));
    }, timeoutMs);
  };
  const scope: CallScope = {
    ctx: { askUser: ctx.askUser, signal: controller.signal, threadId: ctx.threadId },
    pause: () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    resume: arm,
  };
  arm();
  try {
    const key = taskKey(ctx);
    // Only a tool that may run as a task can have started one before a restart.
    const taskable = def.execution?.taskSupport === "optional" || def.execution?.taskSupport === "required";
    const resumed = taskable ? await ledger.get(key) : undefined;
    const result =
      resumed || conn.taskSupport(def)
        ? await conn.callTask(
            def,
            input,
            scope,
            taskHooks(conn, def, ctx, ledger, key, resumed?.taskId, timeoutMs),
          )
        : await conn.callTool(def, input, scope, (p) =>
            ctx.progress({ server: conn.name, progress: p.progress, total: p.total, message: p.message }),
          );
    if (taskable) await ledger.delete(key);
    return await toToolOutput(conn.name, result, ctx);
  } catch (err) {
    if (timedOut)
      return callError(
        conn.name,
        def.name,
        `no answer within ${formatMs(timeoutMs)}; the call was cancelled`,
      );
    if (err instanceof McpTaskLostError) {
      await ledger.delete(taskKey(ctx));
      return callError(
        conn.name,
        def.name,
        `${err.message} (it expired, or ended with the server's process); its outcome is unknown and the tool was not called again`,
      );
    }
    if (ctx.signal.aborted) throw err;
    if (conn.status.status === "failed") onFailure?.(ctx.turnId);
    if (err instanceof McpUnavailableError) return { output: err.message, isError: true as const };
    // The server wants a (new) login mid-session, e.g. a wider scope: say where to log in.
    const login = err instanceof UnauthorizedError ? conn.pendingAuthorization : undefined;
    if (login)
      return callError(
        conn.name,
        def.name,
        `needs a login: open ${login.href} in a browser (or run \`taifeng mcp login ${conn.name}\`), then call again`,
      );
    const message = describeError(err);
    if (/unknown tool|tool .*not found/i.test(message)) conn.markToolsStale();
    return callError(conn.name, def.name, message);
  } finally {
    if (timer) clearTimeout(timer);
    ctx.signal.removeEventListener("abort", onAbort);
  }
}

/**
 * How a task-backed call reports and waits: the task's creation and status changes are
 * `tool_call_progress` events (`data: { server, task: { id, status, message } }`); the task's
 * id goes to the ledger before the call parks (a restart runs the parked call again, which
 * then follows the same task instead of calling the tool again).
 */
function taskHooks(
  conn: McpConnection,
  def: SdkTool,
  ctx: ToolContext,
  ledger: McpTaskLedger,
  key: string,
  resumeTaskId: string | undefined,
  timeoutMs: number,
): TaskCallHooks {
  let taskId = resumeTaskId;
  const report = (task: McpTaskState) =>
    ctx.progress({
      server: conn.name,
      task: {
        id: task.taskId,
        status: task.status,
        ...(task.statusMessage ? { message: task.statusMessage } : {}),
      },
    });
  return {
    resumeTaskId,
    // The server may drop the task and its result once this long has passed.
    ttlMs: Math.max(timeoutMs, 60_000) + 10 * 60_000,
    onCreated: async (task) => {
      taskId = task.taskId;
      await ledger.put(key, { server: conn.name, tool: def.name, taskId: task.taskId, at: Date.now() });
    },
    onStatus: report,
    wait: async (follow) => {
      if (!ctx.park) return follow();
      let running: Promise<unknown> | undefined;
      try {
        return await ctx.park(
          `Waiting on MCP task ${taskId} (tool ${def.name} of server "${conn.name}")`,
          () => {
            const p = follow();
            running = p;
            return p;
          },
        );
      } catch (err) {
        // An interrupt ends the park at once; the task is cancelled before the call returns.
        await running?.catch(() => undefined);
        throw err;
      }
    },
  };
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

/** The canonical text of a tool definition: equal text, same Taifeng tool object. */
export function definitionKey(def: SdkTool, name: string): string {
  return `${name}\n${canonical(def)}`;
}
