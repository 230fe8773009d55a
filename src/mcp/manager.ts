/**
 * McpManager: the configured MCP servers of a host, as tools for its engines. Tool lists are
 * cached and refreshed only at turn boundaries (through `prepareTurn`), sorted so the prompt
 * prefix stays byte-identical while nothing changed; a change is reported as a `warning`
 * (`mcp_tools_changed`) naming what changed, a dead server as `mcp_server_failed`.
 */

import type { Implementation, OAuthClientProvider, Tool as SdkTool } from "@modelcontextprotocol/client";
import { describeError } from "../errors.ts";
import { toTools } from "../interop/foreign.ts";
import type { ModelClient } from "../llm/types.ts";
import type { EngineOptions } from "../loop/engine-options.ts";
import type { PrepareTurn, PrepareTurnContext, TurnPrefix } from "../loop/prefix.ts";
import type { EventMsg } from "../protocol/index.ts";
import { type Tool, ToolSet } from "../tool/define.ts";
import { DEFAULT_MAX_TOOL_OUTPUT_CHARS, limitOutput, markOutputManaged } from "../tool/output-limit.ts";
import { fileOAuthProvider } from "./auth.ts";
import type { McpConfig, McpServerEntry } from "./config.ts";
import { type ConnectionEvent, McpConnection, type McpServerState, type ToolListing } from "./connection.ts";
import { RESOURCE_TOOL_NAMES, resourceTools } from "./resources.ts";
import { type McpTaskLedger, memoryTaskLedger } from "./task-ledger.ts";
import type { McpTaskState } from "./tasks.ts";
import { assignNames, definitionKey, filterTools, type McpTool, mcpTool } from "./tools.ts";

/** Options for `McpManager.open`. */
export interface McpManagerOptions {
  /** The servers (from `loadMcpConfig`, or entries built in code). */
  readonly servers: McpConfig | readonly McpServerEntry[];
  /** How Taifeng introduces itself to servers. */
  readonly clientInfo?: Implementation;
  /** The model sampling requests use when no turn's model is known. */
  readonly samplingModel?: ModelClient;
  /** OAuth client provider per server. Default: `fileOAuthProvider` for servers configured with `oauth`. */
  readonly authProvider?: (entry: McpServerEntry) => OAuthClientProvider | undefined;
  /** Environment for `bearerTokenEnv`. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Replaces `fetch` for HTTP servers. */
  readonly fetch?: typeof fetch;
  /** How long connecting to one server may take. Default 30,000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * Longest MCP tool output the model sees, in characters (the engine's default cap); longer
   * outputs keep head and tail and the full text goes to the engine's artifact store.
   * Default 10,000; `false` turns it off.
   */
  readonly maxOutputChars?: number | false;
  /**
   * For servers that cannot announce changes (no `listChanged`) and give no `ttlMs`: how old
   * a tool list may get before the next turn boundary lists again. Default 30,000 ms.
   */
  readonly relistAfterMs?: number;
  /**
   * Where task-backed calls record their task (see `fileTaskLedger`), so that a call resumed
   * after a restart follows its task instead of calling the tool again. Default: in memory
   * (resumes within this process only).
   */
  readonly taskLedger?: McpTaskLedger;
}

/** One server as `status()` reports it. */
export interface McpServerStatus {
  readonly name: string;
  readonly source: McpServerEntry["source"];
  readonly state: McpServerState;
  /** Taifeng tool names exposed from this server. */
  readonly tools: readonly string[];
  /** The tail of the server's stderr (stdio servers). */
  readonly stderr: string;
}

interface ServerTools {
  readonly listing: ToolListing | undefined;
  readonly tools: readonly McpTool[];
}

const DEFAULT_CLIENT: Implementation = { name: "taifeng", version: "0.1.0" };

/** The host's MCP servers, shared by any number of engines. */
export class McpManager {
  private readonly conns = new Map<string, McpConnection>();
  private readonly byServer = new Map<string, ServerTools>();
  private readonly built = new Map<string, McpTool>();
  private readonly names = new Set<string>(RESOURCE_TOOL_NAMES);
  private readonly relistAfterMs: number;
  private readonly maxOutputChars: number | false;
  private readonly samplingModel: ModelClient | undefined;
  private readonly ledger: McpTaskLedger;
  private readonly resources: Tool[];
  private readonly pending: EventMsg[] = [];
  private readonly emitters = new Map<string, (msg: EventMsg) => void>();
  private readonly reported = new Map<string, number>();
  private turnModel: ModelClient | undefined;
  private generation = 0;
  private current: Tool[] = [];
  private lastSet: { base: ToolSet; generation: number; out: ToolSet } | undefined;

  private constructor(options: McpManagerOptions) {
    this.relistAfterMs = options.relistAfterMs ?? 30_000;
    this.maxOutputChars = options.maxOutputChars ?? DEFAULT_MAX_TOOL_OUTPUT_CHARS;
    this.samplingModel = options.samplingModel;
    this.ledger = options.taskLedger ?? memoryTaskLedger();
    const entries = "servers" in options.servers ? options.servers.servers : options.servers;
    for (const entry of entries) {
      this.conns.set(
        entry.name,
        new McpConnection(entry, {
          clientInfo: options.clientInfo ?? DEFAULT_CLIENT,
          samplingModel: () => this.turnModel ?? this.samplingModel,
          onEvent: (e) => this.onConnectionEvent(e),
          authProvider:
            options.authProvider ?? ((e) => fileOAuthProvider(e, { env: options.env ?? process.env })),
          env: options.env,
          fetch: options.fetch,
          connectTimeoutMs: options.connectTimeoutMs,
        }),
      );
    }
    this.resources = resourceTools(() => this.conns);
  }

  /**
   * Opens the manager: eager servers (the default) connect and list their tools now, in
   * parallel. A server that fails is recorded (see `status()`), never thrown: the host and
   * its other servers keep working.
   */
  static async open(options: McpManagerOptions): Promise<McpManager> {
    const manager = new McpManager(options);
    await Promise.all(
      [...manager.conns.values()]
        .filter((c) => (c.entry.config.startup ?? "eager") === "eager")
        .map((c) => manager.refreshServer(c, undefined)),
    );
    manager.rebuild();
    return manager;
  }

  /** The connections by server name. */
  get servers(): ReadonlyMap<string, McpConnection> {
    return this.conns;
  }

  /** The MCP tools as of the last refresh (sorted by name), resource tools included when useful. */
  tools(): readonly Tool[] {
    return this.current;
  }

  /** Every server's state and tools. */
  status(): McpServerStatus[] {
    return [...this.conns.values()].map((c) => ({
      name: c.name,
      source: c.entry.source,
      state: c.status,
      tools: (this.byServer.get(c.name)?.tools ?? []).map((t) => t.name),
      stderr: c.stderr.tail(),
    }));
  }

  /**
   * Engine options that add the MCP tools to `base.tools` and refresh them at every turn
   * boundary, after `base.prepareTurn` (e.g. skills) has run. Spread into `AgentEngine.open`
   * or `EnginePool.create`.
   */
  engineOptions(base: Pick<EngineOptions, "tools" | "prepareTurn"> = {}): {
    tools: Tool[];
    prepareTurn: PrepareTurn;
  } {
    const inner = base.prepareTurn;
    return {
      tools: [...toTools(base.tools ?? []), ...this.current],
      prepareTurn: inner
        ? async (turn) => this.prepare(turn, await inner(turn))
        : (turn) => this.prepare(turn, turn),
    };
  }

  /** A PrepareTurn on its own (for hosts that compose turn preparation themselves). */
  readonly prepareTurn: PrepareTurn = (turn) => this.prepare(turn, turn);

  private async prepare(turn: PrepareTurnContext, prefix: TurnPrefix): Promise<TurnPrefix> {
    this.turnModel = turn.model;
    this.emitters.set(turn.turnId, turn.emit);
    if (this.emitters.size > 64) this.emitters.delete(this.emitters.keys().next().value as string);
    await Promise.all(
      [...this.conns.values()].filter((c) => this.due(c)).map((c) => this.refreshServer(c, turn)),
    );
    this.rebuild();
    for (const msg of this.pending.splice(0)) turn.emit(msg);
    return { system: prefix.system, tools: this.compose(prefix.tools) };
  }

  /** Whether a server's tool list must be fetched at this turn boundary. */
  private due(c: McpConnection): boolean {
    const s = c.status;
    if (s.status === "closed") return false;
    if (s.status === "failed") return Date.now() >= s.retryAt;
    const listing = c.tools;
    if (s.status === "idle" || c.toolsStale || !listing) return true;
    // Listed outside the manager (a direct `call`, a login): build the tools from it now.
    if (this.byServer.get(c.name)?.listing !== listing) return true;
    const age = Date.now() - listing.at;
    if (listing.ttlMs !== undefined) return age >= listing.ttlMs;
    return !c.announcesToolChanges && age >= this.relistAfterMs;
  }

  private async refreshServer(c: McpConnection, turn: PrepareTurnContext | undefined): Promise<void> {
    const before = this.byServer.get(c.name);
    let listing: ToolListing;
    try {
      listing = await c.listTools(turn?.signal);
    } catch (err) {
      // The failure was reported through onConnectionEvent; the tools go away until it is back.
      if (before && before.tools.length > 0) this.byServer.set(c.name, { listing: undefined, tools: [] });
      if (!(err instanceof Error) || err.name !== "McpUnavailableError") {
        const login = c.pendingAuthorization;
        this.queueFailure(
          c.name,
          login
            ? `needs a login: open ${login.href} in a browser (or run \`taifeng mcp login ${c.name}\`)`
            : describeError(err),
          0,
        );
      }
      return;
    }
    if (before?.listing?.fingerprint === listing.fingerprint) {
      this.byServer.set(c.name, { listing, tools: before.tools });
      return;
    }
    // Tools that only run as tasks are left out when tasks cannot be used with this server.
    const defs = filterTools(listing.tools, c.entry.config.allowedTools, c.entry.config.disabledTools).filter(
      (t) => t.execution?.taskSupport !== "required" || c.taskSupport(t) !== undefined,
    );
    const names = assignNames(c.name, defs);
    const tools: McpTool[] = [];
    for (const def of defs) {
      const name = names.get(def) as string;
      const key = `${c.name}\n${definitionKey(def, name)}`;
      let tool = this.built.get(key);
      if (!tool) {
        const made = mcpTool(c, def, name, (turnId) => this.reportCallFailure(c, turnId), this.ledger);
        // limitOutput keeps every property of the tool (`mcp` included) and marks it managed;
        // with the cap off the tool is marked too, or the engine's scheduler would cap it.
        tool =
          this.maxOutputChars === false
            ? markOutputManaged(made)
            : (limitOutput(made, { maxChars: this.maxOutputChars }) as McpTool);
        this.built.set(key, tool);
      }
      this.names.add(name);
      tools.push(tool);
    }
    if (before?.listing) this.reportDrift(c.name, before.listing.tools, listing.tools);
    this.byServer.set(c.name, { listing, tools });
    this.generation++;
  }

  private reportDrift(server: string, old: readonly SdkTool[], now: readonly SdkTool[]): void {
    const was = new Map(old.map((t) => [t.name, definitionKey(t, "")]));
    const is = new Map(now.map((t) => [t.name, definitionKey(t, "")]));
    const added = [...is.keys()].filter((n) => !was.has(n));
    const removed = [...was.keys()].filter((n) => !is.has(n));
    const changed = [...is.keys()].filter((n) => was.has(n) && was.get(n) !== is.get(n));
    const parts = [
      added.length ? `added ${added.join(", ")}` : "",
      removed.length ? `removed ${removed.join(", ")}` : "",
      changed.length ? `changed ${changed.join(", ")}` : "",
    ].filter(Boolean);
    if (parts.length === 0) return;
    this.pending.push({
      type: "warning",
      code: "mcp_tools_changed",
      message: `MCP server "${server}" changed its tools: ${parts.join("; ")}. The new list applies from this turn.`,
    });
  }

  private rebuild(): void {
    const tools: Tool[] = [];
    for (const c of this.conns.values()) tools.push(...(this.byServer.get(c.name)?.tools ?? []));
    if ([...this.conns.values()].some((c) => c.offersResources)) tools.push(...this.resources);
    tools.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (tools.length === this.current.length && tools.every((t, i) => t === this.current[i])) return;
    this.current = tools;
    this.generation++;
  }

  /** `base` without any tool this manager made, plus the current MCP tools. Same input, same set. */
  private compose(base: ToolSet): ToolSet {
    const last = this.lastSet;
    if (last && last.base === base && last.generation === this.generation) return last.out;
    const kept = [...base].filter((t) => !this.names.has(t.name));
    const out = new ToolSet([...kept, ...this.current]);
    this.lastSet = { base, generation: this.generation, out };
    return out;
  }

  private onConnectionEvent(e: ConnectionEvent): void {
    if (e.type === "failed") this.queueFailure(e.server, e.error, e.attempts);
  }

  private queueFailure(server: string, error: string, attempts: number): void {
    if ((this.reported.get(server) ?? -1) >= attempts && attempts > 0) return;
    this.reported.set(server, attempts);
    this.pending.push({ type: "mcp_server_failed", server, error, attempts });
  }

  /** A call found its server dead: the event goes out on the call's own turn right away. */
  private reportCallFailure(c: McpConnection, turnId: string): void {
    const emit = this.emitters.get(turnId);
    if (!emit) return;
    const queued = this.pending.filter((m) => m.type === "mcp_server_failed" && m.server === c.name);
    for (const msg of queued) {
      this.pending.splice(this.pending.indexOf(msg), 1);
      emit(msg);
    }
  }

  /**
   * Calls a server's tool directly (the CLI's `mcp call`), outside any engine. A tool the
   * server runs as a task is followed to its end (`onTask` sees its status changes).
   */
  async call(
    server: string,
    tool: string,
    args: Record<string, unknown>,
    signal?: AbortSignal,
    onTask?: (task: McpTaskState) => void,
  ) {
    const conn = this.conns.get(server);
    if (!conn) throw new Error(`no MCP server named "${server}"`);
    const listing = conn.tools ?? (await conn.listTools(signal));
    const def = listing.tools.find((t) => t.name === tool);
    if (!def)
      throw new Error(
        `MCP server "${server}" has no tool "${tool}" (it has: ${listing.tools.map((t) => t.name).join(", ")})`,
      );
    const ctrl = new AbortController();
    if (signal) signal.addEventListener("abort", () => ctrl.abort(signal.reason), { once: true });
    const scope = { ctx: { askUser: undefined, signal: ctrl.signal }, pause: () => {}, resume: () => {} };
    if (!conn.taskSupport(def)) return conn.callTool(def, args, scope);
    return conn.callTask(def, args, scope, {
      ttlMs: 15 * 60_000,
      onCreated: async () => {},
      onStatus: (task) => onTask?.(task),
      wait: (follow) => follow(),
    });
  }

  /** Closes every connection (stdio servers' process groups are killed). */
  async close(): Promise<void> {
    await Promise.all([...this.conns.values()].map((c) => c.close()));
  }
}
