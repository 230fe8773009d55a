// The engine settles work synchronously when nothing is pending (a synchronous store, a
// synchronous PrepareTurn, a synchronous tool) and waits only when there is something to wait
// for. These tests pin the waiting side: an asynchronous flush still gates the turn's end,
// failures of the synchronous paths still become events, and both kinds of tool give the
// same event sequence.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { MemoryThreadStore } from "../src/conversation/memory-store.ts";
import type { OpenedThread, ThreadMeta, ThreadStore, ThreadWriter } from "../src/conversation/store.ts";
import type { RolloutLine } from "../src/protocol/index.ts";
import { defineTool } from "../src/tool/define.ts";
import { ofSubmission, simEngine } from "./helpers/engine.ts";
import { shape } from "./helpers/events.ts";

/** A store whose writers flush only when the test says so (like a file store waiting on fsync). */
class GatedStore implements ThreadStore {
  private readonly inner = new MemoryThreadStore();
  readonly flushes: { resolve: () => void; reject: (err: Error) => void }[] = [];

  private gate(writer: ThreadWriter): ThreadWriter {
    return {
      threadId: writer.threadId,
      append: (line: RolloutLine) => writer.append(line),
      flush: () => new Promise<void>((resolve, reject) => this.flushes.push({ resolve, reject })),
      close: () => writer.close(),
    };
  }

  async create(meta: ThreadMeta): Promise<ThreadWriter> {
    return this.gate(await this.inner.create(meta));
  }
  async open(threadId: string): Promise<OpenedThread> {
    const opened = await this.inner.open(threadId);
    return { ...opened, writer: this.gate(opened.writer) };
  }
  read(threadId: string) {
    return this.inner.read(threadId);
  }
  exists(threadId: string) {
    return this.inner.exists(threadId);
  }
  list() {
    return this.inner.list();
  }
  delete(threadId: string) {
    return this.inner.delete(threadId);
  }
  close() {
    return this.inner.close();
  }
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
};

describe("engine fast paths", () => {
  it("publishes the turn end only after an asynchronous flush resolved", async () => {
    const store = new GatedStore();
    const { engine, events } = await simEngine([{ text: "done" }], { store });
    const id = engine.submit("go");
    await until(() => store.flushes.length > 0);
    expect(store.flushes).toHaveLength(1);
    expect(shape(ofSubmission(events, id)).at(-1)).toBe("model_call_completed 1 stop");
    store.flushes[0]?.resolve();
    await until(() => engine.idle);
    expect(shape(ofSubmission(events, id)).at(-1)).toBe("turn_completed");
  });

  it("turns a failed asynchronous flush into turn_failed store_error", async () => {
    const store = new GatedStore();
    const { engine, events } = await simEngine([{ text: "done" }], { store });
    const id = engine.submit("go");
    await until(() => store.flushes.length > 0);
    store.flushes[0]?.reject(new Error("disk full"));
    await until(() => engine.idle);
    const end = ofSubmission(events, id).at(-1)?.msg;
    expect(end).toMatchObject({
      type: "turn_failed",
      error: { code: "store_error", message: "the transcript could not be written: disk full" },
    });
  });

  it("uses what a synchronous PrepareTurn returns for every call of the turn", async () => {
    const systems: string[] = [];
    const step = (request: { system: string }) => {
      systems.push(request.system);
      return { text: "ok" };
    };
    const { engine } = await simEngine([step], {
      system: "base",
      prepareTurn: (turn) => ({ system: `${turn.system}\nextra`, tools: turn.tools }),
    });
    await engine.submitAndWait("go");
    expect(systems).toEqual(["base\nextra"]);
  });

  it("fails the turn with prepare_failed when PrepareTurn throws synchronously or rejects", async () => {
    for (const prepareTurn of [
      () => {
        throw new Error("no catalog");
      },
      () => Promise.reject(new Error("no catalog")),
    ]) {
      const { engine } = await simEngine([{ text: "never" }], { prepareTurn });
      const events = await engine.submitAndWait("go");
      expect(events.at(-1)?.msg).toMatchObject({
        type: "turn_failed",
        error: { code: "prepare_failed", message: "the turn could not be prepared: no catalog" },
      });
    }
  });

  it("gives a synchronous and an asynchronous tool the same event sequence", async () => {
    const run = async (execute: (input: { v: string }) => string | Promise<string>) => {
      const tool = defineTool({ name: "t", description: "t", schema: z.object({ v: z.string() }), execute });
      const { engine } = await simEngine(
        [{ toolCalls: [{ id: "c1", name: "t", arguments: { v: "x" } }] }, { text: "done" }],
        { tools: [tool] },
      );
      return shape(await engine.submitAndWait("go"));
    };
    const sync = await run(({ v }) => `got ${v}`);
    const async = await run(async ({ v }) => `got ${v}`);
    expect(sync).toEqual(async);
    expect(sync).toContain("tool_call_completed t c1 ok");
  });

  it("reports a synchronous throw of a tool as an error output", async () => {
    const tool = defineTool({
      name: "boom",
      description: "Throws.",
      schema: z.object({}),
      execute: () => {
        throw new Error("kaput");
      },
    });
    const { engine } = await simEngine(
      [{ toolCalls: [{ id: "c1", name: "boom", arguments: {} }] }, { text: "done" }],
      { tools: [tool] },
    );
    const events = await engine.submitAndWait("go");
    const completed = events.find((e) => e.msg.type === "tool_call_completed")?.msg;
    expect(completed).toMatchObject({ isError: true, status: "error", output: "Tool boom failed: kaput" });
  });
});
