/**
 * One configured MCP server: connects on demand, keeps its tool list, calls its tools,
 * and recovers. A stdio server that dies is restarted with backoff on the next use; an HTTP
 * session the server forgot (404) is re-established and the call retried once. Failures are
 * data: every method rejects with McpUnavailableError / the SDK's error, never crashes the host.
 */
import {
  type CallToolResult,
  type Client,
  type GetPromptResult,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  type Tool as SdkTool,
  type StreamableHTTPClientTransport,
  type Transport,
} from "@modelcontextprotocol/client";
import { describeError } from "../errors.ts";
import type { McpServerEntry } from "./config.ts";
import {
  type ConnectionEnv,
  type McpServerState,
  McpUnavailableError,
  type ToolListing,
} from "./connection-types.ts";
import { fingerprint } from "./fingerprint.ts";
import { CallRouter, type CallScope } from "./routing.ts";
import { newClient } from "./session.ts";
import { ProcessTransport, StderrLog } from "./stdio.ts";
import { callAsTask, type TaskCallHooks, TaskWatch, taskSupportOf } from "./tasks.ts";
import { type McpTransportKind, ServerTransports } from "./transport.ts";

export {
  type ConnectionEnv,
  type ConnectionEvent,
  type McpServerState,
  McpUnavailableError,
  type ToolListing,
} from "./connection-types.ts";
export { canonical, fingerprint } from "./fingerprint.ts";
export type { CallScope } from "./routing.ts";

// Calls are bounded by the tool's own timer (which pauses while a person is asked), not the SDK's.
const NO_SDK_TIMEOUT = 24 * 60 * 60 * 1000;
const BACKOFF_MAX_MS = 60_000;
/** The first protocol revision whose server requests travel inside the call (`input_required`). */
const STATELESS_ERA = "2026-07-28";

/** A connection to one configured server. */
export class McpConnection {
  readonly name: string;
  readonly entry: McpServerEntry;
  readonly stderr = new StderrLog();
  private readonly env: ConnectionEnv;
  private state: McpServerState = { status: "idle" };
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private attempts = 0;
  private closing = false;
  private listing: ToolListing | undefined;
  private stale = false;
  private readonly router = new CallRouter();
  private readonly taskWatch = new TaskWatch();
  private readonly transports: ServerTransports;

  constructor(entry: McpServerEntry, env: ConnectionEnv) {
    this.name = entry.name;
    this.entry = entry;
    this.env = env;
    this.transports = new ServerTransports(entry, this.stderr, env);
  }

  /** The current state. */
  get status(): McpServerState {
    return this.state;
  }

  /** True when the server said its tools changed (or a call named a tool it no longer has). */
  get toolsStale(): boolean {
    return this.stale;
  }

  /** True when the connected server promises `notifications/tools/list_changed`. */
  get announcesToolChanges(): boolean {
    return this.client?.getServerCapabilities()?.tools?.listChanged === true;
  }

  /** True when the connected server has resources (the resource tools are then offered). */
  get offersResources(): boolean {
    return this.client?.getServerCapabilities()?.resources !== undefined;
  }

  /** The last tool list fetched, if any. */
  get tools(): ToolListing | undefined {
    return this.listing;
  }

  /** The child's process id for stdio servers (tests, diagnostics). */
  get processId(): number | undefined {
    const t = (this.client as { transport?: Transport } | undefined)?.transport;
    return t instanceof ProcessTransport ? t.processId : undefined;
  }

  /**
   * A connected client: connects when idle, reconnects a failed server once its backoff has
   * passed, else rejects with McpUnavailableError carrying the last failure.
   */
  ensure(signal?: AbortSignal): Promise<Client> {
    if (this.client && this.state.status === "ready") return Promise.resolve(this.client);
    if (this.connecting) return this.connecting;
    if (this.state.status === "closed")
      return Promise.reject(new McpUnavailableError(`MCP server "${this.name}" is closed`));
    if (this.state.status === "failed" && Date.now() < this.state.retryAt)
      return Promise.reject(
        new McpUnavailableError(
          `MCP server "${this.name}" is unavailable (${this.state.error}); next retry in ${Math.ceil((this.state.retryAt - Date.now()) / 1000)} s`,
        ),
      );
    const wasFailed = this.state.status === "failed";
    this.state = { status: "connecting" };
    const attempt = this.connect(signal).then(
      (client) => {
        this.connecting = undefined;
        this.attempts = 0;
        if (wasFailed) this.env.onEvent({ type: "recovered", server: this.name });
        return client;
      },
      (err: unknown) => {
        this.connecting = undefined;
        const login = this.pendingAuthorization;
        if (login)
          throw this.fail(
            `needs a login: open ${login.href} in a browser, then complete it with \`taifeng mcp login ${this.name}\` (or McpConnection.finishAuth(code))`,
          );
        throw this.fail(`could not connect: ${describeError(err)}`);
      },
    );
    this.connecting = attempt;
    return attempt;
  }

  private fail(error: string): McpUnavailableError {
    this.attempts++;
    const tail = this.stderr.tail(5);
    const full = tail ? `${error}; server stderr:\n${tail}` : error;
    const retryAt = Date.now() + Math.min(BACKOFF_MAX_MS, 1000 * 2 ** (this.attempts - 1));
    if (this.state.status !== "closed")
      this.state = { status: "failed", error: full, attempts: this.attempts, retryAt };
    this.env.onEvent({ type: "failed", server: this.name, error: full, attempts: this.attempts });
    return new McpUnavailableError(`MCP server "${this.name}" is unavailable: ${full}`);
  }

  private async connect(signal: AbortSignal | undefined): Promise<Client> {
    const config = this.entry.config;
    const kinds: McpTransportKind[] =
      config.type === "http" ? ["http", "sse"] : config.type === "sse" ? ["sse"] : ["stdio"];
    let lastError: unknown;
    for (const kind of kinds) {
      const modes = this.modes(kind);
      for (const mode of modes) {
        try {
          return await this.connectWith(kind, mode, signal);
        } catch (err) {
          lastError = err;
          // A timeout or an abort says nothing about the server's era or transport: stop here.
          if (signal?.aborted || this.closing || isTimeout(err)) throw err;
        }
      }
    }
    throw lastError;
  }

  /** Era negotiation modes to try: `auto` falls back to a plain 2025 handshake on a fresh connection. */
  private modes(kind: McpTransportKind): ("auto" | "legacy" | { pin: string })[] {
    const p = this.entry.config.protocol ?? "auto";
    if (kind === "sse" || p === "legacy") return ["legacy"];
    if (p === "auto") return ["auto", "legacy"];
    return [{ pin: p }];
  }

  private async connectWith(
    kind: McpTransportKind,
    mode: "auto" | "legacy" | { pin: string },
    signal: AbortSignal | undefined,
  ): Promise<Client> {
    const client = newClient(
      {
        name: this.name,
        entry: this.entry,
        clientInfo: this.env.clientInfo,
        router: this.router,
        stderr: this.stderr,
        samplingModel: this.env.samplingModel,
        onToolsChanged: () => this.markToolsStale(),
        onTaskStatus: (params) => this.taskWatch.deliver(params),
      },
      mode,
    );
    const transport = this.transports.create(kind);
    try {
      await client.connect(transport, {
        timeout: this.env.connectTimeoutMs ?? 30_000,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      await client.close().catch(() => undefined);
      await transport.close().catch(() => undefined);
      throw err;
    }
    if (this.closing) {
      await client.close().catch(() => undefined);
      throw new McpUnavailableError(`MCP server "${this.name}" is closed`);
    }
    client.onclose = () => {
      if (this.client !== client || this.closing) return;
      this.client = undefined;
      const exit = transport instanceof ProcessTransport ? transport.exit : undefined;
      const how = exit ? ` (exit ${exit.code ?? exit.signal})` : "";
      this.fail(`the connection closed${how}`);
    };
    this.client = client;
    this.state = {
      status: "ready",
      transport: kind,
      protocolVersion: client.getNegotiatedProtocolVersion(),
      server: client.getServerVersion(),
    };
    return client;
  }

  /** The URL a person must open to log in (when the last attempt needs a login) and its `state`. */
  get pendingAuthorization(): URL | undefined {
    return this.transports.pendingAuthorization;
  }
  get pendingState(): string | undefined {
    return this.transports.pendingState;
  }

  /**
   * Completes an OAuth login with the authorization code the server's authorization page
   * sent to the redirect URL, then connects. Rejects when the code is refused.
   */
  async finishAuth(code: string): Promise<void> {
    const transport = this.transports.create(this.entry.config.type === "sse" ? "sse" : "http");
    if (!("finishAuth" in transport)) throw new Error(`MCP server "${this.name}" does not use OAuth`);
    await (transport as StreamableHTTPClientTransport).finishAuth(code);
    await transport.close().catch(() => undefined);
    this.attempts = 0;
    this.state = { status: "idle" };
    await this.ensure();
  }

  /** Marks the tool list for a refresh at the next turn boundary. */
  markToolsStale(): void {
    if (this.stale) return;
    this.stale = true;
    this.env.onEvent({ type: "tools_changed", server: this.name });
  }

  /**
   * True when nothing on the wire links a server's request to the call it serves: stdio with
   * a 2025-era server. Calls to it then run one at a time (see routing.ts).
   */
  private get exclusiveCalls(): boolean {
    const s = this.state;
    return s.status === "ready" && s.transport === "stdio" && (s.protocolVersion ?? "") < STATELESS_ERA;
  }

  /** Fetches the tool list (every page), sorted by name, with its fingerprint. */
  async listTools(signal?: AbortSignal): Promise<ToolListing> {
    const client = await this.ensure(signal);
    const result = await this.withSession(client, (c) =>
      c.listTools(undefined, { cacheMode: "refresh", ...(signal ? { signal } : {}) }),
    );
    const tools = [...result.tools].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const ttl = (result as { ttlMs?: unknown }).ttlMs;
    this.stale = false;
    this.listing = {
      tools,
      fingerprint: fingerprint(tools),
      at: Date.now(),
      ttlMs: typeof ttl === "number" && ttl > 0 ? ttl : undefined,
    };
    return this.listing;
  }

  /** Calls a tool. Progress goes to `onProgress`; the scope's signal cancels (sends notifications/cancelled). */
  async callTool(
    tool: SdkTool,
    args: Record<string, unknown>,
    scope: CallScope,
    onProgress?: (progress: {
      progress: number;
      total?: number | undefined;
      message?: string | undefined;
    }) => void,
  ): Promise<CallToolResult> {
    const client = await this.ensure(scope.ctx.signal);
    return this.router.run(scope, this.exclusiveCalls, () =>
      this.withSession(client, (c) =>
        c.callTool(
          { name: tool.name, arguments: args },
          {
            signal: scope.ctx.signal,
            timeout: NO_SDK_TIMEOUT,
            toolDefinition: tool,
            ...(onProgress ? { onprogress: onProgress } : {}),
          },
        ),
      ),
    );
  }

  /**
   * How `tool` can run as an MCP task on the current connection (`required` / `optional`), or
   * undefined: the server offers no tasks for tools/call, the tool forbids them, the
   * connection speaks the 2026-07-28 protocol (whose Tasks extension is not spoken) or the
   * server's `tasks` setting is `off`.
   */
  taskSupport(tool: SdkTool): "required" | "optional" | undefined {
    if (this.entry.config.tasks === "off" || this.state.status !== "ready") return undefined;
    return taskSupportOf(this.client, tool);
  }

  /**
   * Calls a tool as a task (see tasks.ts): created with the server (or followed again, with
   * `hooks.resumeTaskId`), followed until it ends, its result fetched; an abort of the scope's
   * signal cancels it with `tasks/cancel`.
   */
  async callTask(
    tool: SdkTool,
    args: Record<string, unknown>,
    scope: CallScope,
    hooks: TaskCallHooks,
  ): Promise<CallToolResult> {
    const client = await this.ensure(scope.ctx.signal);
    return this.router.run(scope, this.exclusiveCalls, () =>
      callAsTask(client, this.taskWatch, tool, args, scope.ctx.signal, hooks, (c) => this.reconnect(c)),
    );
  }

  /** Lists the server's resources (empty when it has none). */
  async listResources(signal?: AbortSignal): Promise<readonly Resource[]> {
    const client = await this.ensure(signal);
    if (!client.getServerCapabilities()?.resources) return [];
    return (await this.withSession(client, (c) => c.listResources(undefined, signal ? { signal } : {})))
      .resources;
  }

  /** Reads one resource. */
  async readResource(uri: string, signal?: AbortSignal): Promise<ReadResourceResult> {
    const client = await this.ensure(signal);
    return this.withSession(client, (c) => c.readResource({ uri }, signal ? { signal } : {}));
  }

  /** Lists the server's prompts (empty when it has none). */
  async listPrompts(signal?: AbortSignal): Promise<readonly Prompt[]> {
    const client = await this.ensure(signal);
    if (!client.getServerCapabilities()?.prompts) return [];
    return (await this.withSession(client, (c) => c.listPrompts(undefined, signal ? { signal } : {})))
      .prompts;
  }

  /** Renders a prompt with its arguments. */
  async getPrompt(
    name: string,
    args: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<GetPromptResult> {
    const client = await this.ensure(signal);
    return this.withSession(client, (c) => c.getPrompt({ name, arguments: args }, signal ? { signal } : {}));
  }

  /**
   * Runs `op`; when the server answers 404 (it no longer knows the HTTP session), connects
   * afresh and runs it once more.
   */
  private async withSession<T>(client: Client, op: (c: Client) => Promise<T>): Promise<T> {
    try {
      return await op(client);
    } catch (err) {
      if (!isSessionGone(err) || this.closing) throw err;
      return op(await this.reconnect(client));
    }
  }

  /** Drops a client whose HTTP session the server forgot and connects afresh. */
  private async reconnect(client: Client): Promise<Client> {
    this.stderr.append(`[client] session expired (HTTP 404): reconnecting\n`);
    if (this.client === client) this.client = undefined;
    await client.close().catch(() => undefined);
    this.state = { status: "idle" };
    return this.ensure();
  }

  /** Closes the connection (and kills a stdio server's process group). Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    this.state = { status: "closed" };
    const pending = this.connecting;
    const client = this.client;
    this.client = undefined;
    if (pending)
      await pending
        .then(
          (c) => c.close(),
          () => undefined,
        )
        .catch(() => undefined);
    if (client) await client.close().catch(() => undefined);
  }
}

function isSessionGone(err: unknown): boolean {
  return err instanceof SdkHttpError && err.status === 404;
}

function isTimeout(err: unknown): boolean {
  return err instanceof SdkError && err.code === SdkErrorCode.RequestTimeout;
}
