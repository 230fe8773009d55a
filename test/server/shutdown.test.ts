/**
 * Graceful shutdown against a listening server: a running turn gets `drainMs` to reach its
 * end, or is interrupted after it; viewers get `event: shutdown`; nothing is accepted after.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { api, startServer, TOKEN, tempStorage } from "../helpers/server.ts";
import { frameType, openSse } from "../helpers/sse.ts";

let storage: Awaited<ReturnType<typeof tempStorage>>;
beforeAll(async () => {
  storage = await tempStorage();
});
afterAll(() => storage.remove());

const auth = { authorization: `Bearer ${TOKEN}` };

async function lastTurnEnd(dir: string, id: string): Promise<string | undefined> {
  const store = new JsonlThreadStore({ dir });
  try {
    const lines = await store.read(id);
    const ends = lines.flatMap((l) =>
      l.type === "event" && /^turn_(completed|failed|aborted)$/.test(l.payload.msg.type)
        ? [
            l.payload.msg.type === "turn_aborted"
              ? `turn_aborted:${l.payload.msg.reason}`
              : l.payload.msg.type,
          ]
        : [],
    );
    return ends.at(-1);
  } finally {
    await store.close();
  }
}

async function startSlowTurn(url: string) {
  const created = (await (await api(url, "/v1/threads", { method: "POST", body: "{}" })).json()) as {
    threadId: string;
  };
  const id = created.threadId;
  const viewer = openSse(`${url}/v1/threads/${id}/events?live=1`, auth);
  await viewer.status;
  await api(url, `/v1/threads/${id}/ops`, {
    method: "POST",
    body: JSON.stringify({ type: "user_input", text: "slow" }),
  });
  await viewer.until((f) => f.event === "event" && frameType(f) === "assistant_text", 60_000);
  return { id, viewer };
}

describe("graceful shutdown", () => {
  it("lets a running turn finish within drainMs, ends the streams with event: shutdown, then refuses connections", async () => {
    const { server, url } = await startServer(storage.dir, [], { drainMs: 60_000 });
    const { id, viewer } = await startSlowTurn(url);
    await server.close();
    await viewer.ended;
    const types = viewer.frames.map(frameType);
    expect(types.at(-1)).toBe("shutdown");
    expect(types).toContain("turn_completed");
    expect(types.indexOf("turn_completed")).toBeLessThan(types.indexOf("shutdown"));
    expect(await lastTurnEnd(storage.dir, id)).toBe("turn_completed");
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  }, 120_000);

  it("interrupts a turn still running at the deadline: it ends aborted (shutdown) in its transcript", async () => {
    const { server, url } = await startServer(storage.dir, [], { drainMs: 0 });
    const { id, viewer } = await startSlowTurn(url);
    await server.close();
    await viewer.ended;
    const types = viewer.frames.map(frameType);
    expect(types).not.toContain("turn_completed");
    expect(types.at(-1)).toBe("shutdown");
    expect(await lastTurnEnd(storage.dir, id)).toBe("turn_aborted:shutdown");
  }, 120_000);
});
