/** Builds the SDK transport for a configured server: our stdio transport, Streamable HTTP or legacy SSE. */
import {
  type OAuthClientProvider,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type Transport,
} from "@modelcontextprotocol/client";
import { TaifengError } from "../errors.ts";
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
