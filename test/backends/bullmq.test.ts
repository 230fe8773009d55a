import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { replayRollout } from "../../src/index.ts";
import { services } from "../helpers/services.ts";
import { type Harness, harness } from "./harness.ts";

const svc = await services();
let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

const lines = (path: string) => {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").filter(Boolean);
  } catch {
    return [];
  }
};

describe.runIf(svc.run)("BullMQ backend (in-process worker)", () => {
  it("runs a submitted turn on a worker: the transcript in PostgreSQL, the effects once", async () => {
    h = await harness();
    await h.worker();
    const threadId = await h.backend.createThread({ recipe: { model: "sim:effects", tools: ["effect"] } });
    const ticket = await h.backend.submit(threadId, "effect 2");
    expect(ticket).toEqual({ threadId, n: 1 });
    const outcome = await h.backend.wait(ticket);
    expect(outcome).toMatchObject({ status: "completed", text: "done 2" });
    expect(lines(join(h.dir, "effects.log")).map((l) => l.split(" ")[2])).toEqual(["0", "1"]);
    const replay = replayRollout(await h.store.read(threadId));
    expect(replay.turns.map((t) => t.outcome)).toEqual(["completed"]);
    expect(replay.items.map((i) => i.type)).toEqual([
      "message",
      "function_call",
      "function_call_output",
      "function_call",
      "function_call_output",
      "message",
    ]);
    const second = await h.backend.wait(await h.backend.submit(threadId, "effect 1"));
    expect(second).toMatchObject({ status: "completed", text: "done 1" });
    expect(replayRollout(await h.store.read(threadId)).turnCount).toBe(2);
  });
});
