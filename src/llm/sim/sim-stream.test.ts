import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ModelEvent } from "../types.ts";
import { SimStream } from "./sim-stream.ts";

const text = (delta: string): ModelEvent => ({ type: "text_delta", delta });
const finish: ModelEvent = { type: "finish", reason: "stop" };

describe("SimStream", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("hands out each event after its delay, and nothing before", async () => {
    const stream = new SimStream([text("a"), text("b"), finish], [100, 0, 50], undefined);
    let first: IteratorResult<ModelEvent> | undefined;
    void stream.next().then((r) => {
      first = r;
    });
    await vi.advanceTimersByTimeAsync(99);
    expect(first).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(first).toEqual({ done: false, value: text("a") });
    expect(await stream.next()).toEqual({ done: false, value: text("b") });
    const third = stream.next();
    await vi.advanceTimersByTimeAsync(50);
    expect(await third).toEqual({ done: false, value: finish });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("ends with an aborted error when the signal fires during a delay, releasing its timer", async () => {
    const controller = new AbortController();
    const stream = new SimStream([text("a"), finish], [1000, 0], controller.signal);
    const pending = stream.next();
    await vi.advanceTimersByTimeAsync(10);
    controller.abort();
    expect(await pending).toEqual({
      done: false,
      value: { type: "error", error: expect.objectContaining({ code: "aborted" }) },
    });
    expect(vi.getTimerCount()).toBe(0);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it("return() during a delay answers the pending next() with done at once", async () => {
    const controller = new AbortController();
    const stream = new SimStream([text("a"), finish], [1000, 0], controller.signal);
    const pending = stream.next();
    expect(await stream.return()).toEqual({ done: true, value: undefined });
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(vi.getTimerCount()).toBe(0);
    // The abort listener went with the timer: a later abort changes nothing.
    controller.abort();
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it("rejects a second next() while one is pending, keeping the first", async () => {
    const stream = new SimStream([text("a"), finish], [100, 0], undefined);
    const first = stream.next();
    await expect(stream.next()).rejects.toThrow(/while a call is pending/);
    await vi.advanceTimersByTimeAsync(100);
    expect(await first).toEqual({ done: false, value: text("a") });
  });

  it("reports an abort that happened before the first call", async () => {
    const controller = new AbortController();
    controller.abort();
    const stream = new SimStream([text("a")], [0], controller.signal);
    const first = await stream.next();
    expect(first.done).toBe(false);
    expect(first.value).toMatchObject({ type: "error", error: { code: "aborted" } });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });
});
