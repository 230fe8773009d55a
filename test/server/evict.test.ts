/**
 * Suspended engines leave memory: threads parked on approvals are evicted by the server, the
 * inbox keeps listing their requests (from the transcripts), and an answer, a message or a
 * viewer reopens the right thread, whose tool then runs exactly once — also after a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, startServer, TOKEN, tempStorage } from "../helpers/server.ts";
import { frameType, openSse, type SseFrame } from "../helpers/sse.ts";

let storage: Awaited<ReturnType<typeof tempStorage>>;
beforeAll(async () => {
  storage = await tempStorage();
});
afterAll(() => storage.remove());

const auth = { authorization: `Bearer ${TOKEN}` };
const THREADS = 12;

interface Row {
  threadId: string;
  requestId: string;
  kind: string;
  tool?: string;
  input?: { command: string };
  live: boolean;
}

/** Polls `probe` until it returns a value (generous deadline: the machine is shared). */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const inbox = async (url: string) =>
  ((await (await api(url, "/v1/approvals")).json()) as { approvals: Row[] }).approvals;
const engines = async (url: string) =>
  ((await (await api(url, "/healthz")).json()) as { engines: number }).engines;
const status = async (url: string, id: string) =>
  ((await (await api(url, `/v1/threads/${id}`)).json()) as { status: string }).status;

describe("suspended engines are evicted and reopened on demand", () => {
  it("parks many threads on approvals with no engine in memory; answers, messages and viewers reopen the right thread; the tool runs once, across a restart", async () => {
    const ran: string[] = [];
    const first = await startServer(storage.dir, ran, { evictSuspendedMs: 0 });
    const ids: string[] = [];
    let rows: Row[];
    try {
      for (let i = 0; i < THREADS; i++) {
        const res = await api(first.url, "/v1/threads", {
          method: "POST",
          body: JSON.stringify({ input: `shell: echo t${i}` }),
        });
        ids.push(((await res.json()) as { threadId: string }).threadId);
      }
      // Every thread waits on a person, and none of them holds an engine.
      rows = await eventually(async () => {
        const none = (await engines(first.url)) === 0;
        const r = await inbox(first.url);
        return none && r.length === THREADS ? r : undefined;
      }, "every thread parked and evicted");
      expect(first.server.hub.evictions).toBe(THREADS);
      expect(first.server.hub.pool.size).toBe(0);
      expect(rows.map((r) => r.live)).toEqual(Array(THREADS).fill(false));
      expect(rows.map((r) => r.kind)).toEqual(Array(THREADS).fill("permission"));
      expect(new Set(rows.map((r) => r.threadId))).toEqual(new Set(ids));
      for (const r of rows) expect(r.input?.command).toBe(`echo t${ids.indexOf(r.threadId)}`);
      const parkedRow = (await (await api(first.url, `/v1/threads/${ids[0]}`)).json()) as Record<
        string,
        unknown
      >;
      expect([parkedRow.status, parkedRow.live, parkedRow.pendingRequests]).toEqual(["suspended", false, 1]);
      expect(ran).toEqual([]);

      // An answer from the API reopens that thread only; its tool runs once.
      const five = rows.find((r) => r.threadId === ids[5]) as Row;
      const answered = await api(first.url, `/v1/threads/${five.threadId}/ops`, {
        method: "POST",
        body: JSON.stringify({ type: "approval", requestId: five.requestId, decision: "allow_once" }),
      });
      expect(answered.status).toBe(202);
      await eventually(
        async () => ((await status(first.url, five.threadId)) === "idle" ? true : undefined),
        "thread 5 to finish",
      );
      expect(ran).toEqual(["echo t5"]);
      expect((await inbox(first.url)).map((r) => r.threadId).sort()).toEqual(
        ids.filter((id) => id !== five.threadId).sort(),
      );

      // A viewer reopens a parked thread: the request is asked again live, under the same id.
      const two = rows.find((r) => r.threadId === ids[2]) as Row;
      const viewer = openSse(`${first.url}/v1/threads/${two.threadId}/events`, auth);
      const again = await viewer.until(
        (f: SseFrame) => f.event === "event" && frameType(f) === "permission_requested",
      );
      expect((JSON.parse(again.data) as { msg: { requestId: string } }).msg.requestId).toBe(two.requestId);
      expect(first.server.hub.pool.get(two.threadId)).toBeDefined();
      expect((await inbox(first.url)).find((r) => r.threadId === two.threadId)?.live).toBe(true);
      // Watched, it is not evicted again.
      expect(first.server.hub.evictSuspended(0)).toEqual([]);
      await api(first.url, `/v1/threads/${two.threadId}/ops`, {
        method: "POST",
        body: JSON.stringify({ type: "approval", requestId: two.requestId, decision: "allow_once" }),
      });
      await viewer.until((f) => f.event === "event" && frameType(f) === "turn_completed");
      viewer.close();
      expect(ran).toEqual(["echo t5", "echo t2"]);

      // A new message reopens a parked thread: the parked turn asks again first, and the
      // message waits behind it.
      const seven = rows.find((r) => r.threadId === ids[7]) as Row;
      await api(first.url, `/v1/threads/${seven.threadId}/ops`, {
        method: "POST",
        body: JSON.stringify({ type: "user_input", text: "hello" }),
      });
      const asked = await eventually(async () => {
        const r = (await inbox(first.url)).find((x) => x.threadId === seven.threadId);
        return r?.live ? r : undefined;
      }, "thread 7 to ask again");
      expect(asked.requestId).toBe(seven.requestId);
      expect(ran).toEqual(["echo t5", "echo t2"]);
    } finally {
      await first.server.close();
    }

    // After a restart nothing is opened; the inbox still lists every parked request.
    const ran2: string[] = [];
    const second = await startServer(storage.dir, ran2, { evictSuspendedMs: 0 });
    try {
      expect(second.server.hub.pool.size).toBe(0);
      const after = await inbox(second.url);
      const expected = rows
        .filter((r) => r.threadId !== ids[5] && r.threadId !== ids[2])
        .map((r) => [r.threadId, r.requestId])
        .sort();
      expect(after.map((r) => [r.threadId, r.requestId]).sort()).toEqual(expected);
      expect(after.every((r) => !r.live)).toBe(true);
      const nine = after.find((r) => r.threadId === ids[9]) as Row;
      const res = await api(second.url, `/v1/threads/${nine.threadId}/ops`, {
        method: "POST",
        body: JSON.stringify({ type: "approval", requestId: nine.requestId, decision: "allow_once" }),
      });
      expect(res.status).toBe(202);
      await eventually(
        async () => ((await status(second.url, nine.threadId)) === "idle" ? true : undefined),
        "thread 9 to finish",
      );
      expect(ran2).toEqual(["echo t9"]);
      // The others went back out of memory; nothing ran twice.
      await eventually(async () => ((await engines(second.url)) <= 1 ? true : undefined), "evictions");
      expect((await inbox(second.url)).length).toBe(THREADS - 3);
      expect(ran).toEqual(["echo t5", "echo t2"]);
    } finally {
      await second.server.close();
    }
  }, 180_000);
});
