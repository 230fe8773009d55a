/**
 * `createServer`: the HTTP + SSE API and the web console on one EnginePool. Binds 127.0.0.1
 * by default; any other address needs bearer tokens. Hosts may mount `app.fetch` themselves.
 */
import type { AddressInfo } from "node:net";
import { type HttpBindings, serve } from "@hono/node-server";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { TaifengError } from "../errors.ts";
import { createRedactor } from "../redact/redactor.ts";
import type { Redactor } from "../redact/types.ts";
import { bearer, isLoopback, loopbackHostHeader, RateLimiter, type TokenSet, tokensFromEnv } from "./auth.ts";
import { registerConsole } from "./console-assets.ts";
import { ThreadHub, type ThreadHubOptions } from "./hub.ts";
import { metricsText } from "./metrics.ts";
import { openApiDocument } from "./openapi.ts";
import { createPrometheusMetrics, type PrometheusMetrics } from "./prometheus.ts";
import { errorReply, registerRoutes, type ServerEnv } from "./routes.ts";

const VERSION = "0.1.0";

/** Options of `createServer`: the pool's, plus the HTTP side. */
export interface ServerOptions extends ThreadHubOptions {
  /** Interface to bind. Default `127.0.0.1`. Any other needs `tokens`. */
  readonly host?: string;
  /** TCP port. Default 4319; 0 picks a free port. */
  readonly port?: number;
  /** Names of environment variables holding accepted bearer tokens. */
  readonly tokens?: readonly string[];
  /** Where `tokens` are read. Default `process.env`. Also the source of the redactor's secrets. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Accept requests without a token. Allowed only on a loopback address, and then only with a loopback Host header. */
  readonly insecureLocal?: boolean;
  /** Origins allowed by CORS. Default none. */
  readonly corsOrigins?: readonly string[];
  /** Largest request body. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Requests per minute per token (per address without tokens). Default 600. */
  readonly rateLimitPerMinute?: number;
  /** How long `close` lets running turns finish before interrupting them. Default 30 s. */
  readonly drainMs?: number;
  /**
   * Reopen threads waiting on a person at start. Default false: the inbox lists their
   * requests from the transcripts, and an answer, a message or a viewer reopens the thread.
   */
  readonly resumeSuspended?: boolean;
  /**
   * Serve `GET /metrics` from the telemetry layer's instruments (needs the optional peers
   * `@opentelemetry/sdk-metrics` and `@opentelemetry/exporter-prometheus`; without them, or
   * with false, `/metrics` serves the server's own counters). Default true.
   */
  readonly metrics?: boolean;
  /** Serve the web console at `/`. Default true. */
  readonly console?: boolean;
}

/** A running (or mountable) server. */
export interface TaifengServer {
  /** The Hono app: mount `app.fetch` in another Node server, or call `listen`. */
  readonly app: Hono<ServerEnv>;
  readonly hub: ThreadHub;
  /** Starts listening. Resolves with the base URL (`http://127.0.0.1:4319`). */
  listen(): Promise<string>;
  /** The base URL once listening. */
  readonly url: string | undefined;
  /**
   * Graceful shutdown: stops accepting connections, lets running turns reach a durable point
   * (interrupting them after `drainMs`), ends every event stream, closes the pool and the store.
   */
  close(): Promise<void>;
}

/**
 * Creates the server. Throws TaifengError `invalid_config` when the address would be
 * reachable without a token: tokens are required off loopback, and on loopback unless
 * `insecureLocal` is set; every named token variable must be set (16+ characters).
 */
export async function createServer(options: ServerOptions): Promise<TaifengServer> {
  const env = options.env ?? process.env;
  const host = options.host ?? "127.0.0.1";
  const tokenNames = options.tokens ?? [];
  let tokens: TokenSet | undefined;
  if (tokenNames.length > 0) tokens = tokensFromEnv(tokenNames, env);
  else if (!isLoopback(host))
    throw new TaifengError(
      "invalid_config",
      `binding ${host} needs bearer tokens (server.tokens): only 127.0.0.1 may run without`,
    );
  else if (options.insecureLocal !== true)
    throw new TaifengError(
      "invalid_config",
      "no bearer tokens configured: set server.tokens (names of environment variables), or pass --insecure-local to accept anonymous requests on 127.0.0.1",
    );
  const redactor = createRedactor({ env });
  let hubRef: ThreadHub | undefined;
  const prometheus =
    options.metrics === false
      ? undefined
      : await createPrometheusMetrics((id) => hubRef?.isEvicting(id) === true);
  const hub = await ThreadHub.create({
    ...options,
    redactor: options.redactor ?? redactor,
    listeners: [...(options.listeners ?? []), ...(prometheus ? [prometheus.listener] : [])],
  });
  hubRef = hub;
  prometheus?.bind(hub);
  if (options.resumeSuspended === true) await hub.resumeSuspended();
  const app = buildApp(hub, options, tokens, redactor, prometheus);
  let httpServer: ReturnType<typeof serve> | undefined;
  let url: string | undefined;
  let closing: Promise<void> | undefined;
  return {
    app,
    hub,
    get url() {
      return url;
    },
    listen() {
      return new Promise((resolve, reject) => {
        const s = serve(
          { fetch: app.fetch, port: options.port ?? 4319, hostname: host },
          (info: AddressInfo) => {
            const shown = info.family === "IPv6" ? `[${info.address}]` : info.address;
            url = `http://${shown}:${info.port}`;
            resolve(url);
          },
        );
        s.once("error", reject);
        httpServer = s;
      });
    },
    close() {
      closing ??= (async () => {
        const stopped = httpServer
          ? new Promise<void>((r) => httpServer?.close(() => r()))
          : Promise.resolve();
        await hub.close(options.drainMs ?? 30_000);
        await prometheus?.shutdown();
        // Event streams ended above; idle keep-alive sockets go now.
        (httpServer as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.();
        await stopped;
      })();
      return closing;
    },
  };
}

function buildApp(
  hub: ThreadHub,
  options: ServerOptions,
  tokens: TokenSet | undefined,
  redactor: Redactor,
  prometheus: PrometheusMetrics | undefined,
): Hono<ServerEnv> {
  const app = new Hono<ServerEnv>();
  const limiter = new RateLimiter(options.rateLimitPerMinute ?? 600);
  const fail = (status: number, code: string, message: string, headers?: Record<string, string>) =>
    new Response(JSON.stringify({ error: { code, message: redactor.redact(message) } }), {
      status,
      headers: { "content-type": "application/json", ...headers },
    });
  app.onError((err) => {
    const r = errorReply(err);
    return fail(r.status, r.code, r.message);
  });
  app.notFound((c) => fail(404, "not_found", `no route ${c.req.method} ${new URL(c.req.url).pathname}`));
  if (options.corsOrigins && options.corsOrigins.length > 0)
    app.use(
      "*",
      cors({
        origin: [...options.corsOrigins],
        allowHeaders: ["authorization", "content-type", "last-event-id"],
      }),
    );
  const open = (path: string) => path === "/healthz" || path === "/" || path.startsWith("/console/");
  app.use("*", async (c, next) => {
    const path = c.req.path;
    let key: string;
    if (tokens) {
      const presented = bearer(c.req.header("authorization"));
      const index = presented === undefined ? -1 : tokens.match(presented);
      if (index < 0 && !open(path))
        return fail(
          401,
          "unauthorized",
          presented === undefined ? "send Authorization: Bearer <token>" : "the token is not accepted",
          {
            "www-authenticate": 'Bearer realm="taifeng"',
          },
        );
      key = index < 0 ? `addr:${c.env?.incoming?.socket.remoteAddress ?? "?"}` : `token:${index}`;
    } else {
      if (!loopbackHostHeader(c.req.header("host")))
        return fail(
          403,
          "forbidden_host",
          "without tokens only loopback Host names are served (DNS rebinding guard)",
        );
      key = `addr:${c.env?.incoming?.socket.remoteAddress ?? "?"}`;
    }
    const wait = limiter.take(key);
    if (wait > 0)
      return fail(429, "rate_limited", "too many requests", {
        "retry-after": String(Math.ceil(wait / 1000)),
      });
    await next();
  });
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: options.maxBodyBytes ?? 1024 * 1024,
      // The rest of the body is not read: the connection cannot be reused.
      onError: () =>
        fail(413, "body_too_large", `the body exceeds ${options.maxBodyBytes ?? 1024 * 1024} bytes`, {
          connection: "close",
        }),
    }),
  );
  app.get("/healthz", (c) => c.json({ ok: true, engines: hub.pool.size, viewers: hub.viewerCount }));
  app.get("/openapi.json", (c) => c.json(openApiDocument(VERSION)));
  app.get("/metrics", async (c) =>
    c.text(prometheus ? await prometheus.render() : metricsText(hub), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }),
  );
  registerRoutes(app, hub);
  if (options.console !== false) registerConsole(app);
  return app;
}

export type { HttpBindings };
