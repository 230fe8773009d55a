/**
 * Serving MCP over Streamable HTTP from `node:http`: both protocol eras through the SDK's
 * `createMcpHandler` (2026-07-28 per request, 2025 traffic served statelessly), bound to
 * 127.0.0.1 unless told otherwise, with Host and Origin checks against DNS rebinding and an
 * optional bearer token.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import {
  createMcpHandler,
  hostHeaderValidationResponse,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  type McpHttpHandler,
  originValidationResponse,
} from "@modelcontextprotocol/server";
import { McpTaskStore } from "./serve-tasks.ts";
import { createMcpServer, type McpServeOptions } from "./server.ts";

/** Options for `serveMcpHttp`. */
export interface McpHttpOptions extends McpServeOptions {
  /** Port to listen on; 0 picks a free one. */
  readonly port: number;
  /** Interface to bind. Default `127.0.0.1`. */
  readonly host?: string;
  /** Path of the MCP endpoint. Default `/mcp`. */
  readonly path?: string;
  /** Require `Authorization: Bearer <token>` on every request. */
  readonly token?: string;
  /** Host names accepted in the Host header. Default: localhost names (127.0.0.1, localhost, [::1]). */
  readonly allowedHosts?: readonly string[];
  /** Origins' host names accepted from browsers. Default: localhost origins only. */
  readonly allowedOrigins?: readonly string[];
}

/** A running HTTP MCP server. */
export interface McpHttpServer {
  /** The endpoint, e.g. `http://127.0.0.1:43121/mcp`. */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** A web-standard handler for the MCP endpoint, for hosts that mount it in their own server. */
export function mcpHttpHandler(options: McpServeOptions): McpHttpHandler {
  // One task store for every per-request server: a task outlives the request that made it.
  const owned = options.tasks === undefined ? new McpTaskStore() : undefined;
  const tasks = options.tasks ?? owned;
  const handler = createMcpHandler(() => createMcpServer({ ...options, tasks }));
  if (!owned) return handler;
  const wrapped: McpHttpHandler = {
    ...handler,
    fetch: (request, opts) => handler.fetch(request, opts),
    close: async () => {
      owned.close();
      await handler.close();
    },
  };
  return wrapped;
}

/** Starts an HTTP MCP server; resolves once it listens. */
export async function serveMcpHttp(options: McpHttpOptions): Promise<McpHttpServer> {
  const handler = mcpHttpHandler(options);
  const path = options.path ?? "/mcp";
  const hosts = [...(options.allowedHosts ?? localhostAllowedHostnames())];
  const origins = [...(options.allowedOrigins ?? localhostAllowedOrigins())];
  const token = options.token;
  const server = createServer(
    nodeListener(async (request) => {
      const rejected =
        hostHeaderValidationResponse(request, hosts) ?? originValidationResponse(request, origins);
      if (rejected) return rejected;
      if (new URL(request.url).pathname !== path) return new Response("Not Found", { status: 404 });
      if (token !== undefined && !bearerMatches(request.headers.get("authorization"), token))
        return new Response(JSON.stringify({ error: "unauthorized" }), {
          status: 401,
          headers: { "content-type": "application/json", "www-authenticate": 'Bearer realm="taifeng"' },
        });
      return handler.fetch(request);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as { address: string; port: number };
  const host = address.address.includes(":") ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}${path}`,
    server,
    close: async () => {
      await handler.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function bearerMatches(header: string | null, token: string): boolean {
  const given = Buffer.from(header?.replace(/^Bearer\s+/i, "") ?? "");
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** A `node:http` request listener serving a web-standard `fetch` handler. */
export function nodeListener(
  fetchHandler: (request: Request) => Promise<Response>,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void fetchHandler(toRequest(req, res))
      .then((response) => send(response, res))
      .catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(err));
      });
  };
}

function toRequest(req: IncomingMessage, res: ServerResponse): Request {
  const url = `http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (Array.isArray(v)) for (const item of v) headers.append(k, item);
    else if (v !== undefined) headers.set(k, v);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  const controller = new AbortController();
  // A client that goes away mid-response cancels the request (and what it started).
  res.once("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  return new Request(url, {
    method: req.method ?? "GET",
    headers,
    signal: controller.signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: "half" } : {}),
  } as RequestInit);
}

async function send(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const body = Readable.fromWeb(response.body as never);
  res.once("close", () => body.destroy());
  body.pipe(res);
}
