/** The `/v1` routes: threads, ops, events, fork, archive, approvals, usage. */
import type { HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context, Hono } from "hono";
import type { z } from "zod";
import { replayRollout } from "../conversation/replay.ts";
import { summarizeThread, type ThreadInfo } from "../conversation/summary.ts";
import { forkThread } from "../conversation/thread-ops.ts";
import { TaifengError } from "../errors.ts";
import type { RolloutLine } from "../protocol/index.ts";
import { CreateThreadBody, ForkBody, OpBody } from "./api-schemas.ts";
import type { ThreadHub } from "./hub.ts";
import { parsePosition } from "./positions.ts";
import { streamThread } from "./sse.ts";
import { usageReport } from "./usage.ts";

/** Hono environment of the server: Node bindings. */
export type ServerEnv = { Bindings: HttpBindings };

/** A request error with an HTTP status and a stable code. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function body<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  let raw: unknown;
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type))
    throw new HttpError(415, "unsupported_media_type", "send the body as application/json");
  try {
    raw = await c.req.json();
  } catch {
    throw new HttpError(400, "invalid_json", "the body is not valid JSON");
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue?.path.map(String).join(".") || "body";
    throw new HttpError(400, "invalid_body", `${at}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

/** Longest wait for a reopened engine to ask a request again before its answer is submitted. */
const ANSWER_WAIT_MS = 10_000;

/**
 * A viewer arriving at a thread whose engine was evicted while it waited on a person reopens
 * it, so that the request is asked again live. A thread held by another process stays as is.
 */
async function reopenIfParked(
  hub: ThreadHub,
  id: string,
  lines: readonly RolloutLine[] | undefined,
): Promise<void> {
  const live = hub.pool.get(id);
  if (live && live.status !== "closed" && !hub.isEvicting(id)) return;
  if (summarizeThread(lines ?? (await hub.store.read(id))).status !== "suspended") return;
  try {
    await hub.engine(id);
  } catch {
    // locked elsewhere or unreadable: the viewer still gets the transcript
  }
}

const THREAD_ID = /^[A-Za-z0-9_-]{1,128}$/;

function threadParam(c: Context): string {
  const id = c.req.param("id") ?? "";
  if (!THREAD_ID.test(id))
    throw new HttpError(400, "invalid_thread_id", "thread ids are 1-128 letters, digits, _ or -");
  return id;
}

async function readThread(hub: ThreadHub, id: string): Promise<RolloutLine[]> {
  if (!(await hub.store.exists(id))) throw new HttpError(404, "thread_not_found", `no thread ${id}`);
  return hub.store.read(id);
}

/** A directory row with what this server knows live. */
export function summary(hub: ThreadHub, info: ThreadInfo): Record<string, unknown> {
  const ch = hub.peek(info.threadId);
  const engine = hub.pool.get(info.threadId);
  const running = engine !== undefined && engine.status !== "closed" && !engine.idle;
  // An evicted (or not yet reopened) suspended thread: its parked requests, at least one.
  const pending =
    ch?.live === true
      ? ch.pending.size
      : info.status === "suspended"
        ? Math.max(1, hub.parkedCount(info.threadId) ?? 1)
        : 0;
  return {
    threadId: info.threadId,
    ...(info.title !== undefined ? { title: info.title } : {}),
    createdAt: info.createdAt,
    updatedAt: info.updatedAt,
    turns: info.turns,
    status:
      pending > 0
        ? "suspended"
        : running
          ? "running"
          : info.status === "running" && ch?.live
            ? "running"
            : info.status,
    usage: info.usage,
    ...(info.parentThreadId !== undefined ? { parentThreadId: info.parentThreadId } : {}),
    ...(info.parentTurns !== undefined ? { parentTurns: info.parentTurns } : {}),
    live: ch?.live === true,
    pendingRequests: pending,
  };
}

function intQuery(c: Context, name: string, dflt: number, max: number): number {
  const raw = c.req.query(name);
  if (raw === undefined) return dflt;
  if (!/^\d{1,9}$/.test(raw))
    throw new HttpError(400, "invalid_query", `${name} must be a non-negative integer`);
  return Math.min(Number(raw), max);
}

/** Registers the `/v1` routes on `app`. */
export function registerRoutes(app: Hono<ServerEnv>, hub: ThreadHub): void {
  app.get("/v1/threads", async (c) => {
    const limit = intQuery(c, "limit", 50, 500);
    const offset = intQuery(c, "offset", 0, 1_000_000);
    const search = c.req.query("search");
    const parent = c.req.query("parent");
    const rows = await hub.store.list({
      limit: offset + limit + 1,
      ...(search ? { search } : {}),
      ...(parent ? { parentThreadId: parent } : {}),
    });
    const page = rows.slice(offset, offset + limit);
    return c.json({
      threads: page.map((r) => summary(hub, r)),
      ...(rows.length > offset + limit ? { nextOffset: offset + limit } : {}),
    });
  });

  app.post("/v1/threads", async (c) => {
    const b = await body(c, CreateThreadBody);
    const engine = await hub.createThread({
      ...(b.title !== undefined ? { title: b.title } : {}),
      ...(b.system !== undefined ? { system: b.system } : {}),
    });
    const submissionId =
      b.input !== undefined ? engine.submit({ type: "user_input", text: b.input }) : undefined;
    return c.json({ threadId: engine.threadId, ...(submissionId ? { submissionId } : {}) }, 201);
  });

  app.get("/v1/threads/:id", async (c) => {
    const id = threadParam(c);
    const lines = await readThread(hub, id);
    const info = summarizeThread(lines);
    const engine = hub.pool.get(id);
    return c.json({
      ...summary(hub, info),
      model: engine?.modelId ?? replayRollout(lines).lastTurnContext?.model,
    });
  });

  app.get("/v1/threads/:id/items", async (c) => {
    const id = threadParam(c);
    const replayed = replayRollout(await readThread(hub, id));
    return c.json({ threadId: id, turns: replayed.turnCount, items: replayed.items });
  });

  app.post("/v1/threads/:id/ops", async (c) => {
    const id = threadParam(c);
    const op = await body(c, OpBody);
    if (op.type === "shutdown")
      throw new HttpError(
        400,
        "invalid_op",
        "shutdown is not accepted over HTTP: DELETE the thread, or let the server evict it",
      );
    const release = hub.hold(id);
    try {
      const engine = await hub.engine(id);
      // A reopened engine asks its parked requests again first; the answer waits for that.
      if (op.type === "approval" || op.type === "user_input_answer")
        await hub.waitForRequest(id, op.requestId, ANSWER_WAIT_MS, c.req.raw.signal);
      const submissionId = engine.submit(op);
      return c.json({ threadId: id, submissionId }, 202);
    } finally {
      release();
    }
  });

  app.get("/v1/threads/:id/events", async (c) => {
    const id = threadParam(c);
    if (!(await hub.store.exists(id))) throw new HttpError(404, "thread_not_found", `no thread ${id}`);
    const header = c.req.header("last-event-id");
    const query = c.req.query("after");
    const raw = header ?? query;
    const after = parsePosition(raw);
    if (raw !== undefined && raw !== "" && after === undefined)
      throw new HttpError(400, "invalid_position", `"${raw.slice(0, 40)}" is not an event id (N or N.K)`);
    const release = hub.hold(id);
    try {
      await streamThread(hub, id, c.env.outgoing, {
        after,
        live: c.req.query("live") === "1" && after === undefined,
        beforeAttach: (lines) => reopenIfParked(hub, id, lines),
      });
    } finally {
      release();
    }
    return RESPONSE_ALREADY_SENT;
  });

  app.post("/v1/threads/:id/fork", async (c) => {
    const id = threadParam(c);
    const b = await body(c, ForkBody);
    if (!(await hub.store.exists(id))) throw new HttpError(404, "thread_not_found", `no thread ${id}`);
    const forked = await forkThread(hub.store, id, {
      ...(b.atTurn !== undefined ? { atTurn: b.atTurn } : {}),
      ...(b.title !== undefined ? { title: b.title } : {}),
    });
    return c.json(forked, 201);
  });

  app.delete("/v1/threads/:id", async (c) => {
    const id = threadParam(c);
    if (!(await hub.store.exists(id))) throw new HttpError(404, "thread_not_found", `no thread ${id}`);
    const engine = hub.pool.get(id);
    if (engine && !engine.idle)
      throw new HttpError(
        409,
        "thread_busy",
        "the thread has a running turn or a pending request; interrupt it first",
      );
    await engine?.close();
    await hub.store.delete(id);
    return c.body(null, 204);
  });

  app.get("/v1/approvals", async (c) => c.json({ approvals: await hub.approvals() }));

  app.get("/v1/usage", async (c) => {
    const limit = intQuery(c, "limit", 200, 2000);
    return c.json(await usageReport(hub, limit));
  });
}

/** Maps a thrown error to a status and code; anything unexpected is a 500 without details. */
export function errorReply(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof HttpError) return { status: err.status, code: err.code, message: err.message };
  if (err instanceof TaifengError) {
    const status: Record<string, number> = {
      thread_not_found: 404,
      invalid_op: 400,
      invalid_argument: 400,
      thread_locked: 409,
      engine_closed: 409,
      pool_exhausted: 503,
      pool_closed: 503,
    };
    return {
      status: status[err.code] ?? 500,
      code: err.code,
      message: status[err.code] ? err.message : "internal error",
    };
  }
  return { status: 500, code: "internal", message: "internal error" };
}
