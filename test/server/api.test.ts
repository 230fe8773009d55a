import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type TaifengServer } from "../../src/server/server.ts";
import { api, scriptedModel, startServer, TOKEN, tempStorage } from "../helpers/server.ts";
import { frameType, openSse, type SseFrame } from "../helpers/sse.ts";

let storage: Awaited<ReturnType<typeof tempStorage>>;
let server: TaifengServer;
let url: string;
const ran: string[] = [];

beforeAll(async () => {
  storage = await tempStorage();
  ({ server, url } = await startServer(storage.dir, ran));
});
afterAll(async () => {
  await server.close();
  await storage.remove();
});

function rawGet(target: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(target, { headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

const isEnd = (f: SseFrame) => ["turn_completed", "turn_failed", "turn_aborted"].includes(frameType(f));

describe("auth and bad requests", () => {
  it("refuses requests without a token, with a wrong one, and answers JSON errors with codes (no stack)", async () => {
    const none = await fetch(`${url}/v1/threads`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="taifeng"');
    expect(await json(none)).toEqual({
      error: { code: "unauthorized", message: "send Authorization: Bearer <token>" },
    });
    const wrong = await api(url, "/v1/threads", { headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(wrong.status).toBe(401);
    expect(((await json(wrong)).error as { code: string }).code).toBe("unauthorized");
    const stream = await fetch(`${url}/v1/threads/any/events`);
    expect([stream.status, stream.headers.get("content-type")]).toEqual([401, "application/json"]);
    // /healthz and the console shell are open; the API behind them is not.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/openapi.json`)).status).toBe(401);

    const cases: [RequestInit & { path: string }, number, string][] = [
      [{ path: "/v1/threads", method: "POST", body: "{nope" }, 400, "invalid_json"],
      [
        { path: "/v1/threads", method: "POST", body: "{}", headers: { "content-type": "text/plain" } },
        415,
        "unsupported_media_type",
      ],
      [{ path: "/v1/threads", method: "POST", body: JSON.stringify({ titel: "x" }) }, 400, "invalid_body"],
      [
        {
          path: "/v1/threads/nope_1/ops",
          method: "POST",
          body: JSON.stringify({ type: "user_input", text: "x" }),
        },
        404,
        "thread_not_found",
      ],
      [{ path: "/v1/threads/..%2Fetc/items" }, 400, "invalid_thread_id"],
      [{ path: "/v1/threads/x/events?after=abc" }, 404, "thread_not_found"],
      [{ path: "/v1/threads?limit=-1" }, 400, "invalid_query"],
      [{ path: "/v2/anything" }, 404, "not_found"],
      [
        { path: "/v1/threads", method: "POST", body: JSON.stringify({ input: "x".repeat(2_000_000) }) },
        413,
        "body_too_large",
      ],
    ];
    for (const [{ path, ...init }, status, code] of cases) {
      const res = await api(url, path, init);
      const text = await res.text();
      expect({
        path,
        status: res.status,
        code: (JSON.parse(text) as { error: { code: string } }).error.code,
      }).toEqual({ path, status, code });
      expect(text).not.toMatch(/\n\s+at /);
    }
  });

  it("refuses to start reachable without a token, and guards the loopback Host without one", async () => {
    const base = { model: scriptedModel(), storageDir: storage.dir, env: {} };
    await expect(createServer({ ...base, host: "0.0.0.0" })).rejects.toThrow(
      /binding 0\.0\.0\.0 needs bearer tokens/,
    );
    await expect(createServer(base)).rejects.toThrow(/--insecure-local/);
    await expect(createServer({ ...base, tokens: ["UNSET_VAR"] })).rejects.toThrow(/UNSET_VAR is not set/);
    await expect(createServer({ ...base, tokens: ["SHORT"], env: { SHORT: "abc" } })).rejects.toThrow(
      /shorter than 16/,
    );
    const local = await createServer({
      ...base,
      insecureLocal: true,
      port: 0,
      storageDir: `${storage.dir}/local`,
    });
    const at = await local.listen();
    try {
      expect((await fetch(`${at}/v1/threads`)).status).toBe(200);
      // fetch() may not set Host; a DNS-rebinding page's request carries its own name there.
      const rebound = await rawGet(`${at}/v1/threads`, { host: "evil.example:80" });
      expect(rebound.status).toBe(403);
      expect((JSON.parse(rebound.body) as { error: { code: string } }).error.code).toBe("forbidden_host");
    } finally {
      await local.close();
    }
  });

  it("rate-limits per token with 429 and Retry-After", async () => {
    const dir = `${storage.dir}/limited`;
    const limited = await startServer(dir, [], { rateLimitPerMinute: 3 });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await api(limited.url, "/v1/threads")).status);
      expect(codes).toEqual([200, 200, 200, 429, 429]);
      const res = await api(limited.url, "/v1/threads");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      await limited.server.close();
    }
  });
});

describe("threads, ops and the event stream", () => {
  it("streams a turn: transcript lines, then live events with durable ids, the same for 50 viewers", async () => {
    const created = await api(url, "/v1/threads", {
      method: "POST",
      body: JSON.stringify({ title: "first" }),
    });
    expect(created.status).toBe(201);
    const { threadId } = (await json(created)) as { threadId: string };
    const viewers = Array.from({ length: 50 }, () =>
      openSse(`${url}/v1/threads/${threadId}/events`, { authorization: `Bearer ${TOKEN}` }),
    );
    await Promise.all(viewers.map((v) => v.until((f) => f.event === "line")));
    const op = await api(url, `/v1/threads/${threadId}/ops`, {
      method: "POST",
      body: JSON.stringify({ type: "user_input", text: "hi" }),
    });
    expect(op.status).toBe(202);
    const { submissionId } = (await json(op)) as { submissionId: string };
    await Promise.all(viewers.map((v) => v.until(isEnd)));
    const first = viewers[0] as (typeof viewers)[number];
    expect(first.frames.map(frameType)).toEqual([
      "line:thread_meta",
      "thread_opened",
      "turn_started",
      "user_message",
      "model_call_started",
      "assistant_text",
      "assistant_text",
      "assistant_text",
      "assistant_text",
      "assistant_message",
      "model_call_completed",
      "turn_completed",
    ]);
    // Ids increase strictly: N for the line, N.K for events.
    const ids = first.frames.map((f) => f.id);
    expect(ids[0]).toBe("1");
    expect(ids.slice(1).every((id) => /^\d+\.\d+$/.test(id ?? ""))).toBe(true);
    const events = first.frames.slice(1).map((f) => JSON.parse(f.data) as { submissionId?: string });
    expect(events.slice(1).every((e) => e.submissionId === submissionId)).toBe(true);
    for (const v of viewers) expect(v.frames).toEqual(first.frames);
    for (const v of viewers) v.close();
  });

  it("resumes a dropped connection exactly where it left off (Last-Event-ID), and the turn goes on without it", async () => {
    const { threadId } = (await json(await api(url, "/v1/threads", { method: "POST", body: "{}" }))) as {
      threadId: string;
    };
    const auth = { authorization: `Bearer ${TOKEN}` };
    const reference = openSse(`${url}/v1/threads/${threadId}/events`, auth);
    const dropped = openSse(`${url}/v1/threads/${threadId}/events`, auth);
    await reference.until((f) => f.event === "line");
    await api(url, `/v1/threads/${threadId}/ops`, {
      method: "POST",
      body: JSON.stringify({ type: "user_input", text: "slow please" }),
    });
    await dropped.until((f) => frameType(f) === "assistant_text" && f.data.includes('"w3 "'));
    dropped.close();
    await dropped.ended;
    const seen = [...dropped.frames];
    const last = seen.at(-1)?.id as string;
    const resumed = openSse(`${url}/v1/threads/${threadId}/events`, { ...auth, "last-event-id": last });
    await Promise.all([reference.until(isEnd), resumed.until(isEnd)]);
    expect([...seen, ...resumed.frames]).toEqual(reference.frames);
    expect(resumed.frames.length).toBeGreaterThan(5);
    reference.close();
    resumed.close();
  });

  it("answers approvals over HTTP: the inbox lists the request, approving runs the tool once", async () => {
    const { threadId } = (await json(await api(url, "/v1/threads", { method: "POST", body: "{}" }))) as {
      threadId: string;
    };
    const stream = openSse(`${url}/v1/threads/${threadId}/events?live=1`, {
      authorization: `Bearer ${TOKEN}`,
    });
    await stream.status;
    await api(url, `/v1/threads/${threadId}/ops`, {
      method: "POST",
      body: JSON.stringify({ type: "user_input", text: "shell: echo approved" }),
    });
    await stream.until((f) => frameType(f) === "permission_requested");
    const inbox = (await json(await api(url, "/v1/approvals"))) as {
      approvals: { threadId: string; requestId: string; tool: string; input: unknown }[];
    };
    const mine = inbox.approvals.filter((a) => a.threadId === threadId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ tool: "shell", input: { command: "echo approved" }, kind: "permission" });
    const listed = (await json(await api(url, `/v1/threads/${threadId}`))) as {
      status: string;
      pendingRequests: number;
    };
    expect(listed).toMatchObject({ status: "suspended", pendingRequests: 1 });
    const answer = await api(url, `/v1/threads/${threadId}/ops`, {
      method: "POST",
      body: JSON.stringify({ type: "approval", requestId: mine[0]?.requestId, decision: "allow_once" }),
    });
    expect(answer.status).toBe(202);
    await stream.until(isEnd);
    expect(
      stream.frames
        .map(frameType)
        .filter((t) => t.startsWith("permission") || t.startsWith("tool_call") || t.startsWith("turn_")),
    ).toEqual([
      "turn_started",
      "tool_call_started",
      "permission_requested",
      "permission_resolved",
      "tool_call_completed",
      "turn_completed",
    ]);
    expect(ran).toEqual(["echo approved"]);
    expect(
      ((await json(await api(url, "/v1/approvals"))).approvals as unknown[]).filter(
        (a) => (a as { threadId: string }).threadId === threadId,
      ),
    ).toEqual([]);
    stream.close();
  });

  it("never shows a secret of the server's environment: not in events, transcript lines or items", async () => {
    const { threadId } = (await json(
      await api(url, "/v1/threads", {
        method: "POST",
        body: JSON.stringify({ input: `my token is ${TOKEN}` }),
      }),
    )) as { threadId: string };
    const s = openSse(`${url}/v1/threads/${threadId}/events`, { authorization: `Bearer ${TOKEN}` });
    await s.until(isEnd);
    s.close();
    const again = openSse(`${url}/v1/threads/${threadId}/events?after=0`, {
      authorization: `Bearer ${TOKEN}`,
    });
    await again.until(isEnd); // from memory: the engine still holds this thread's events
    again.close();
    const items = await (await api(url, `/v1/threads/${threadId}/items`)).text();
    const lines = JSON.stringify(await server.hub.store.read(threadId));
    expect(lines).toContain("[REDACTED:TF_TEST_TOKEN]");
    const all = [...s.frames, ...again.frames].map((f) => f.data).join("\n") + items + lines;
    expect(all).toContain("my token is [REDACTED:TF_TEST_TOKEN]");
    expect(all).not.toContain(TOKEN);
  });

  it("lists with search and paging, shows items, forks, reports usage and metrics, deletes", async () => {
    for (const title of ["alpha one", "alpha two", "beta"]) {
      const r = (await json(
        await api(url, "/v1/threads", { method: "POST", body: JSON.stringify({ title, input: "hello" }) }),
      )) as { threadId: string };
      const s = openSse(`${url}/v1/threads/${r.threadId}/events`, { authorization: `Bearer ${TOKEN}` });
      await s.until(isEnd);
      s.close();
    }
    const page1 = (await json(await api(url, "/v1/threads?search=alpha&limit=1"))) as {
      threads: { title: string; threadId: string }[];
      nextOffset?: number;
    };
    expect(page1.threads.map((t) => t.title)).toEqual(["alpha two"]);
    expect(page1.nextOffset).toBe(1);
    const page2 = (await json(await api(url, `/v1/threads?search=alpha&limit=1&offset=1`))) as typeof page1;
    expect(page2.threads.map((t) => t.title)).toEqual(["alpha one"]);
    expect(page2.nextOffset).toBeUndefined();
    const id = page2.threads[0]?.threadId as string;

    const thread = (await json(await api(url, `/v1/threads/${id}`))) as Record<string, unknown>;
    expect(thread).toMatchObject({
      threadId: id,
      title: "alpha one",
      turns: 1,
      status: "idle",
      model: "sim:script",
    });
    const items = (await json(await api(url, `/v1/threads/${id}/items`))) as {
      items: { type: string; role?: string }[];
    };
    expect(items.items.map((i) => `${i.type}:${i.role}`)).toEqual(["message:user", "message:assistant"]);

    const fork = await api(url, `/v1/threads/${id}/fork`, {
      method: "POST",
      body: JSON.stringify({ atTurn: 1, title: "fork" }),
    });
    expect(fork.status).toBe(201);
    const forked = (await json(fork)) as { threadId: string; parentThreadId: string; turns: number };
    expect(forked).toMatchObject({ parentThreadId: id, turns: 1 });
    const badFork = await api(url, `/v1/threads/${id}/fork`, {
      method: "POST",
      body: JSON.stringify({ atTurn: 9 }),
    });
    expect([badFork.status, ((await json(badFork)).error as { code: string }).code]).toEqual([
      400,
      "invalid_op",
    ]);

    const usage = (await json(await api(url, "/v1/usage"))) as {
      byThread: Record<string, { inputTokens: number; turns: number }>;
      byModel: Record<string, { turns: number }>;
      byDay: Record<string, unknown>;
      latency: Record<string, { calls: number }>;
    };
    expect(usage.byThread[id]).toMatchObject({ inputTokens: 50, turns: 1 });
    expect(usage.byModel["sim:script"]?.turns).toBeGreaterThanOrEqual(3);
    expect(Object.keys(usage.byDay)).toEqual([new Date().toISOString().slice(0, 10)]);
    expect(usage.latency["sim:script"]?.calls).toBeGreaterThanOrEqual(3);

    const metrics = await (await api(url, "/metrics")).text();
    expect(metrics).toMatch(/^taifeng_turns_total\{taifeng_turn_outcome="completed",[^}]*\} [1-9]\d*$/m);
    expect(metrics).toMatch(
      /^gen_ai_client_operation_duration_count\{[^}]*gen_ai_request_model="script"[^}]*\} \d/m,
    );
    const doc = (await json(await api(url, "/openapi.json"))) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/healthz",
      "/metrics",
      "/openapi.json",
      "/v1/approvals",
      "/v1/threads",
      "/v1/threads/{id}",
      "/v1/threads/{id}/events",
      "/v1/threads/{id}/fork",
      "/v1/threads/{id}/items",
      "/v1/threads/{id}/ops",
      "/v1/usage",
    ]);
    expect(JSON.stringify(doc.components.schemas.Op)).toContain("user_input_answer");

    expect((await api(url, `/v1/threads/${forked.threadId}`, { method: "DELETE" })).status).toBe(204);
    expect((await api(url, `/v1/threads/${forked.threadId}`)).status).toBe(404);
    const shutdown = await api(url, `/v1/threads/${id}/ops`, {
      method: "POST",
      body: JSON.stringify({ type: "shutdown" }),
    });
    expect([shutdown.status, ((await json(shutdown)).error as { code: string }).code]).toEqual([
      400,
      "invalid_op",
    ]);
  });
});
