import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { abortOwned, ownedController, unwatchAbort, watchAbort } from "./abort-watch.ts";

describe("watchAbort", () => {
  it("calls the handlers still registered, once each, in registration order", () => {
    const controller = new AbortController();
    const calls: string[] = [];
    const a = () => calls.push("a");
    const b = () => calls.push("b");
    const c = () => calls.push("c");
    watchAbort(controller.signal, a);
    watchAbort(controller.signal, b);
    watchAbort(controller.signal, c);
    unwatchAbort(controller.signal, b);
    controller.abort();
    controller.abort();
    expect(calls).toEqual(["a", "c"]);
  });

  it("keeps one real listener however many handlers come and go", () => {
    const controller = new AbortController();
    const signal = controller.signal;
    let added = 0;
    const add = signal.addEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<AbortSignal["addEventListener"]>) => {
      added++;
      add(...args);
    }) as AbortSignal["addEventListener"];
    let fired = 0;
    for (let i = 0; i < 100; i++) {
      const handler = () => fired++;
      watchAbort(signal, handler);
      unwatchAbort(signal, handler);
    }
    const last = () => fired++;
    watchAbort(signal, last);
    controller.abort();
    expect(added).toBe(1);
    expect(fired).toBe(1);
  });

  it("ignores a signal that has already aborted, and unknown handlers", () => {
    const controller = new AbortController();
    controller.abort();
    let fired = 0;
    watchAbort(controller.signal, () => fired++);
    unwatchAbort(controller.signal, () => fired++);
    unwatchAbort(new AbortController().signal, () => fired++);
    expect(fired).toBe(0);
  });

  it("removes the latest registration of a handler added twice", () => {
    const controller = new AbortController();
    let fired = 0;
    const handler = () => fired++;
    watchAbort(controller.signal, handler);
    watchAbort(controller.signal, handler);
    unwatchAbort(controller.signal, handler);
    controller.abort();
    expect(fired).toBe(1);
  });
});

describe("ownedController", () => {
  it("calls watchers from abortOwned without a real listener; other listeners still run first", () => {
    const controller = ownedController();
    const signal = controller.signal;
    const calls: string[] = [];
    const watcher = () => calls.push(`watcher aborted=${signal.aborted}`);
    watchAbort(signal, watcher);
    watchAbort(signal, () => calls.push("second"));
    expect(getEventListeners(signal, "abort")).toHaveLength(0);
    signal.addEventListener("abort", () => calls.push("listener"));
    abortOwned(controller, new Error("stop"));
    abortOwned(controller);
    expect(calls).toEqual(["listener", "watcher aborted=true", "second"]);
    expect((signal.reason as Error).message).toBe("stop");
    // Like addEventListener after the fact: a late watcher is not called.
    watchAbort(signal, () => calls.push("late"));
    expect(calls).toHaveLength(3);
  });
});
