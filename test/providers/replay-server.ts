import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A local HTTP server that plays provider responses to the official SDKs: recorded
 * streams with each provider's SSE framing, HTTP errors, and faults (resets, malformed
 * chunks, cut streams, slow first bytes). Every request consumes the next queued reply
 * and is recorded (path, headers, parsed body) so tests can check what the SDK sent.
 */

/** Where the fixture files live. */
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "provider-streams");

/** SSE framing per provider family. */
export type Framing = "chat" | "responses" | "anthropic" | "gemini";

/** One queued reply. */
export type Reply =
  /** A fixture file replayed with its framing. `cutAfter` sends only the first N lines and then resets the socket. */
  | {
      kind: "fixture";
      file: string;
      framing: Framing;
      cutAfter?: number;
      endAfter?: number;
      /** Extra response headers (e.g. `x-ratelimit-*`). */
      headers?: Record<string, string>;
    }
  /** Raw SSE text chunks, then the response ends, resets (`reset`) or stays open and silent (`hold`). */
  | { kind: "raw"; chunks: readonly string[]; reset?: boolean; hold?: boolean }
  /** An HTTP error with a JSON body. */
  | { kind: "status"; status: number; body: unknown; headers?: Record<string, string> }
  /** Waits before answering with `reply` (a first byte slower than the client's timeout). */
  | { kind: "delay"; ms: number; reply: Reply };

/** A request the server received. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: Record<string, unknown>;
}

/** The lines of a fixture file, parsed. */
export function fixtureLines(file: string): Record<string, unknown>[] {
  return readFileSync(join(FIXTURES, file), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Frames one payload line as the provider sends it. */
export function frame(line: string, framing: Framing): string {
  switch (framing) {
    case "chat":
      return `data: ${line}\n\n`;
    case "responses":
    case "anthropic":
      return `event: ${(JSON.parse(line) as { type: string }).type}\ndata: ${line}\n\n`;
    case "gemini":
      return `data: ${line}\r\n\r\n`;
  }
}

/** The whole framed body of a fixture (with the `[DONE]` terminator for Chat Completions). */
export function framedFixture(file: string, framing: Framing): string[] {
  const lines = readFileSync(join(FIXTURES, file), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
  const out = lines.map((l) => frame(l, framing));
  if (framing === "chat") out.push("data: [DONE]\n\n");
  return out;
}

const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };

/** The local replay server. Always `close()` it (tests do so in `afterEach`/`finally`). */
export class ReplayServer {
  readonly requests: RecordedRequest[] = [];
  private readonly replies: Reply[] = [];
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly server: Server;
  private constructor(server: Server) {
    this.server = server;
  }

  /** Starts a server on 127.0.0.1 with an ephemeral port. */
  static async start(): Promise<ReplayServer> {
    let self: ReplayServer | undefined;
    const server = createServer((req, res) => {
      self?.handle(req, res).catch((err: unknown) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
    self = new ReplayServer(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return self;
  }

  /** `http://127.0.0.1:<port>` */
  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Queues replies, consumed one per request in order. */
  queue(...replies: Reply[]): this {
    this.replies.push(...replies);
    return this;
  }

  /** Replies not consumed yet. */
  get pending(): number {
    return this.replies.length;
  }

  /** Stops the server, dropping open connections and pending timers. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    this.requests.push({
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>),
    });
    const reply = this.replies.shift();
    if (!reply) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "replay server: no reply queued", type: "test_error" } }));
      return;
    }
    await this.play(reply, res);
  }

  private async play(reply: Reply, res: ServerResponse): Promise<void> {
    switch (reply.kind) {
      case "delay":
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            this.timers.delete(t);
            resolve();
          }, reply.ms);
          this.timers.add(t);
        });
        if (res.destroyed) return;
        return this.play(reply.reply, res);
      case "status":
        res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
        res.end(JSON.stringify(reply.body));
        return;
      case "raw":
        res.writeHead(200, SSE_HEADERS);
        for (const c of reply.chunks) res.write(c);
        if (reply.reset) await resetAfterFlush(res);
        else if (!reply.hold) res.end();
        return;
      case "fixture": {
        const framed = framedFixture(reply.file, reply.framing);
        res.writeHead(200, { ...SSE_HEADERS, ...reply.headers });
        const limit = reply.cutAfter ?? reply.endAfter ?? framed.length;
        for (const c of framed.slice(0, limit)) res.write(c);
        if (reply.cutAfter !== undefined) await resetAfterFlush(res);
        else res.end();
        return;
      }
    }
  }
}

/** Lets written chunks reach the client, then resets the connection (a mid-stream failure). */
async function resetAfterFlush(res: ServerResponse): Promise<void> {
  await new Promise<void>((resolve) => res.write("", () => resolve()));
  // Give the client time to read what was sent before the reset discards it.
  await new Promise<void>((resolve) => setTimeout(resolve, 30));
  res.socket?.resetAndDestroy();
}
