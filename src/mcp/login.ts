/**
 * The OAuth login of an HTTP MCP server, end to end: listen on the redirect URL (a loopback
 * address), start the connection (the SDK discovers the server's protected-resource and
 * authorization-server metadata, registers the client when it has no client id, and builds the
 * PKCE authorization URL), hand the URL to a person, wait for the authorization server to
 * send the browser back with a code, and exchange it for tokens (stored by the provider).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { DEFAULT_REDIRECT_URL } from "./auth.ts";
import type { McpManager } from "./manager.ts";

/** Options of `mcpLogin`. */
export interface McpLoginOptions {
  /** Called with the URL the person must open. */
  readonly onAuthorizationUrl: (url: URL) => void | Promise<void>;
  /** Stops waiting. */
  readonly signal?: AbortSignal;
  /** Longest wait for the browser to come back. Default 5 minutes. */
  readonly timeoutMs?: number;
}

/** How a login ended. */
export type McpLoginResult =
  | { readonly status: "logged_in" }
  | { readonly status: "already_authorized" }
  | { readonly status: "failed"; readonly error: string };

/**
 * Logs in to `server` (configured with `oauth`). Resolves `already_authorized` when stored
 * tokens (or a refresh) already let it connect, `logged_in` after a completed login, else
 * `failed` with what went wrong. Never leaves the callback listener open.
 */
export async function mcpLogin(
  manager: McpManager,
  server: string,
  options: McpLoginOptions,
): Promise<McpLoginResult> {
  const conn = manager.servers.get(server);
  if (!conn) return { status: "failed", error: `no MCP server named "${server}"` };
  const config = conn.entry.config;
  if (!("url" in config) || config.oauth === undefined)
    return { status: "failed", error: `MCP server "${server}" is not configured with oauth` };
  const redirect = new URL(
    (config.oauth === true ? undefined : config.oauth.redirectUrl) ?? DEFAULT_REDIRECT_URL,
  );
  if (!["127.0.0.1", "localhost", "[::1]"].includes(redirect.hostname) || redirect.protocol !== "http:")
    return {
      status: "failed",
      error: `the redirect URL ${redirect.href} is not a loopback http URL: complete the login with McpConnection.finishAuth(code)`,
    };
  const callback = awaitCallback(redirect, options, () => conn.pendingState);
  try {
    await callback.listening;
    // A login may already be pending (a call found its grant revoked); else try to connect.
    let url = conn.pendingAuthorization;
    if (!url) {
      await conn.ensure(options.signal).catch(() => undefined);
      url = conn.pendingAuthorization;
      if (!url)
        return conn.status.status === "ready"
          ? { status: "already_authorized" }
          : { status: "failed", error: describe(conn.status) };
    }
    await options.onAuthorizationUrl(url);
    const code = await callback.code;
    await conn.finishAuth(code);
    return { status: "logged_in" };
  } catch (err) {
    return { status: "failed", error: err instanceof Error ? err.message : String(err) };
  } finally {
    await callback.close();
  }
}

function describe(state: { status: string; error?: string }): string {
  return state.error ?? `the server is ${state.status}`;
}

/** A one-shot listener on the redirect URL: resolves the authorization code it receives. */
function awaitCallback(
  redirect: URL,
  options: McpLoginOptions,
  expectedState: () => string | undefined,
): { listening: Promise<void>; code: Promise<string>; close: () => Promise<void> } {
  let resolveCode!: (code: string) => void;
  let rejectCode!: (err: Error) => void;
  const code = new Promise<string>((resolve, reject) => {
    resolveCode = resolve;
    rejectCode = reject;
  });
  code.catch(() => undefined);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", redirect);
    if (url.pathname !== redirect.pathname) {
      res.writeHead(404).end();
      return;
    }
    const state = expectedState();
    const got =
      state === url.searchParams.get("state") || state === undefined ? url.searchParams.get("code") : null;
    const error =
      got === null && url.searchParams.get("code") ? "state mismatch" : url.searchParams.get("error");
    res.writeHead(got ? 200 : 400, { "content-type": "text/plain; charset=utf-8" });
    res.end(got ? "Logged in. You can close this window." : `Login failed: ${error ?? "no code"}`);
    if (got) resolveCode(got);
    else
      rejectCode(
        new Error(
          `the authorization server refused: ${error ?? "no code"}${url.searchParams.get("error_description") ? ` (${url.searchParams.get("error_description")})` : ""}`,
        ),
      );
  });
  const timer = setTimeout(
    () => rejectCode(new Error("no answer from the browser in time")),
    options.timeoutMs ?? 300_000,
  );
  const onAbort = () => rejectCode(new Error("the login was cancelled"));
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const listening = new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(new Error(`cannot listen on ${redirect.host} for the login callback: ${err.message}`)),
    );
    server.listen(Number(redirect.port || 80), redirect.hostname.replace(/^\[|\]$/g, ""), resolve);
  });
  return {
    listening,
    code,
    close: async () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
