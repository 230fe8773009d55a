/** Builds the SDK transport for a configured server: our stdio transport, Streamable HTTP or legacy SSE. */
import {
  type OAuthClientProvider,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type Transport,
} from "@modelcontextprotocol/client";
import { TaifengError } from "../errors.ts";
import { type FileOAuthProvider, refreshOnce } from "./auth.ts";
import { isStdioServer, type McpServerEntry } from "./config.ts";
import { ProcessTransport, type StderrLog } from "./stdio.ts";

/** Which wire a connection uses. `sse` is the legacy HTTP+SSE transport (protocol 2024-11-05). */
export type McpTransportKind = "stdio" | "http" | "sse";

/** What `createTransport` needs beyond the server's configuration. */
export interface TransportContext {
  readonly stderr: StderrLog;
  /** Environment for `bearerTokenEnv`. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** OAuth client provider for servers configured with `oauth`. */
  readonly authProvider?: OAuthClientProvider | undefined;
  /** Replaces `fetch` for HTTP transports (tests, proxies). */
  readonly fetch?: typeof fetch | undefined;
}

/** The HTTP headers a server's configuration asks for (static headers and a bearer token). */
export function httpHeaders(
  entry: McpServerEntry,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const config = entry.config;
  if (isStdioServer(config)) return {};
  const headers: Record<string, string> = { ...config.headers };
  if (config.bearerTokenEnv !== undefined) {
    const token = env[config.bearerTokenEnv];
    if (token === undefined || token === "")
      throw new TaifengError(
        "invalid_config",
        `MCP server "${entry.name}": environment variable ${config.bearerTokenEnv} (bearerTokenEnv) is not set`,
      );
    headers.Authorization = `Bearer ${token}`;
  }
  return headers;
}

/** A fresh transport of the given kind for `entry` (one per connection attempt). */
export function createTransport(
  entry: McpServerEntry,
  kind: McpTransportKind,
  ctx: TransportContext,
): Transport {
  const config = entry.config;
  if (isStdioServer(config)) {
    return new ProcessTransport({
      command: config.command,
      args: config.args,
      env: config.env,
      cwd: config.cwd,
      stderr: ctx.stderr,
    });
  }
  const url = new URL(config.url);
  const requestInit: RequestInit = { headers: httpHeaders(entry, ctx.env) };
  const common = {
    requestInit,
    ...(ctx.authProvider ? { authProvider: ctx.authProvider } : {}),
    ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
  };
  if (kind === "sse") return new SSEClientTransport(url, common);
  return new StreamableHTTPClientTransport(url, common);
}

/**
 * Transports for one server, sharing its OAuth provider (made once, so a pending login URL
 * survives retries) and one token refresh for all its HTTP transports.
 */
export class ServerTransports {
  private auth: OAuthClientProvider | undefined | null = null;
  private authFetch: typeof fetch | undefined;
  private readonly entry: McpServerEntry;
  private readonly stderr: StderrLog;
  private readonly env: {
    readonly env?: NodeJS.ProcessEnv | undefined;
    readonly fetch?: typeof fetch | undefined;
    readonly authProvider?: ((entry: McpServerEntry) => OAuthClientProvider | undefined) | undefined;
  };

  constructor(entry: McpServerEntry, stderr: StderrLog, env: ServerTransports["env"]) {
    this.entry = entry;
    this.stderr = stderr;
    this.env = env;
  }

  /** The server's OAuth provider, if it uses OAuth. */
  provider(): OAuthClientProvider | undefined {
    if (this.auth === null) this.auth = this.env.authProvider?.(this.entry);
    return this.auth;
  }

  /** The URL a person must open to log in (when the last attempt needs a login). */
  get pendingAuthorization(): URL | undefined {
    return (this.provider() as Partial<FileOAuthProvider> | undefined)?.pendingAuthorization;
  }

  /** The `state` the pending login's callback must bring back. */
  get pendingState(): string | undefined {
    return (this.provider() as Partial<FileOAuthProvider> | undefined)?.pendingState;
  }

  /** A new transport of `kind`. */
  create(kind: McpTransportKind): Transport {
    const authProvider = this.provider();
    if (authProvider && !this.authFetch) this.authFetch = refreshOnce(this.env.fetch);
    return createTransport(this.entry, kind, {
      stderr: this.stderr,
      env: this.env.env,
      authProvider,
      fetch: authProvider ? this.authFetch : this.env.fetch,
    });
  }
}
