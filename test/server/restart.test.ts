import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RolloutLine } from "../../src/protocol/index.ts";
import { api, startServer, TOKEN, tempStorage } from "../helpers/server.ts";
import { frameType, openSse, type SseFrame } from "../helpers/sse.ts";

let storage: Awaited<ReturnType<typeof tempStorage>>;
beforeAll(async () => {
  storage = await tempStorage();
});
afterAll(() => storage.remove());

const auth = { authorization: `Bearer ${TOKEN}` };
const isEnd = (f: SseFrame) => ["turn_completed", "turn_failed", "turn_aborted"].includes(frameType(f));

describe("the event stream and approvals survive a server restart", () => {
  it("resumes from a live event id with exactly the transcript lines after it; a request waiting on a person is answered over HTTP after the restart and its tool runs once", async () => {
    const ranBefore: string[] = [];
    const first = await startServer(storage.dir, ranBefore);
    const created = (await (
      await api(first.url, "/v1/threads", { method: "POST", body: JSON.stringify({ input: "hello" }) })
    ).json()) as { threadId: string };
    const id = created.threadId;
    const seen = openSse(`${first.url}/v1/threads/${id}/events`, auth);
    await seen.until(isEnd);
    // The client got as far as the assistant's message, then lost the connection.
    const cut = seen.frames.findIndex((f) => frameType(f) === "assistant_message");
    const lastSeen = seen.frames[cut]?.id as string;
    expect(lastSeen).toMatch(/^\d+\.\d+$/);
    seen.close();
    // A second turn waits for an approval when the server stops.
    const live = openSse(`${first.url}/v1/threads/${id}/events?live=1`, auth);
    await live.status;
    await api(first.url, `/v1/threads/${id}/ops`, {
      method: "POST",
      body: JSON.stringify({ type: "user_input", text: "shell: touch /tmp/x" }),
    });
    const asked = JSON.parse((await live.until((f) => frameType(f) === "permission_requested")).data) as {
      msg: { requestId: string };
    };
    await first.server.close();
    await live.ended;
    expect(ranBefore).toEqual([]);

    const ran: string[] = [];
    const second = await startServer(storage.dir, ran);
    try {
      // Resume: everything after the client's position, from the transcript, ids = line numbers.
      const resumed = openSse(`${second.url}/v1/threads/${id}/events`, {
        ...auth,
        "last-event-id": lastSeen,
      });
      await resumed.until((f) => frameType(f) === "permission_requested" && f.event === "event");
      const lines = second.server.hub.store.read(id);
      const transcript = await lines;
      const fromLine = Number(lastSeen.split(".")[0]);
      const replayed = resumed.frames.filter((f) => f.event === "line");
      // The reopened engine's events start at the line count it opened with (N.0); the lines
      // it appends from then on arrive as its live events, not again as lines.
      const firstLive = resumed.frames.find((f) => f.event === "event")?.id as string;
      const openedAt = Number(firstLive.split(".")[0]);
      expect(firstLive).toBe(`${openedAt}.0`);
      expect(replayed.map((f) => f.id)).toEqual(
        transcript.slice(fromLine, openedAt).map((_, i) => String(fromLine + i + 1)),
      );
      expect(replayed.map((f) => JSON.parse(f.data) as RolloutLine)).toEqual(
        transcript.slice(fromLine, openedAt),
      );
      expect(resumed.frames.slice(0, replayed.length)).toEqual(replayed);
      expect(replayed.map(frameType)).toContain("line:event"); // the first turn's end
      // Then the live events of the reopened engine: it asks again under the same request id.
      const again = resumed.frames.filter((f) => f.event === "event").map(frameType);
      expect(again.slice(0, 4)).toEqual([
        "thread_opened",
        "turn_started",
        "tool_call_started",
        "permission_requested",
      ]);

      const inbox = (await (await api(second.url, "/v1/approvals")).json()) as {
        approvals: { threadId: string; requestId: string }[];
      };
      expect(inbox.approvals.map((a) => [a.threadId, a.requestId])).toEqual([[id, asked.msg.requestId]]);
      const answer = await api(second.url, `/v1/threads/${id}/ops`, {
        method: "POST",
        body: JSON.stringify({ type: "approval", requestId: asked.msg.requestId, decision: "allow_once" }),
      });
      expect(answer.status).toBe(202);
      await resumed.until(isEnd);
      expect(ran).toEqual(["touch /tmp/x"]);
      expect(
        resumed.frames
          .filter((f) => f.event === "event")
          .map(frameType)
          .slice(-3),
      ).toEqual(["assistant_message", "model_call_completed", "turn_completed"]);
      resumed.close();
    } finally {
      await second.server.close();
    }
  });
});
