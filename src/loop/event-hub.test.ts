import { describe, expect, it } from "vitest";
import { isPromiseLike } from "../promise-like.ts";
import type { Event } from "../protocol/index.ts";
import { EventHub } from "./event-hub.ts";

const event = (submissionId: string | undefined, seq: number): Event => ({
  submissionId,
  threadId: "thr",
  turnId: undefined,
  seq,
  ts: 0,
  msg: { type: "op_applied", op: "steer" },
});

describe("EventHub", () => {
  it("gives a subscriber every event of its submission, early or late, then ends", async () => {
    const hub = new EventHub({ retain: 4 });
    hub.open("s1");
    hub.publish(event("s1", 0));
    const early = hub.subscribe("s1");
    const first = await early.next();
    const pending = early.next();
    hub.publish(event("s1", 1));
    hub.publish(event(undefined, 2));
    hub.publish(event("s1", 3));
    hub.end("s1");
    const late: number[] = [];
    for await (const ev of hub.subscribe("s1")) late.push(ev.seq);
    const rest: number[] = [];
    for await (const ev of early) rest.push(ev.seq);
    expect([first.value?.seq, (await pending).value?.seq, ...rest]).toEqual([0, 1, 3]);
    expect(late).toEqual([0, 1, 3]);
  });

  it("answers next() calls made before earlier ones settled, in order", async () => {
    const hub = new EventHub({ retain: 4 });
    hub.open("s1");
    const sub = hub.subscribe("s1");
    const a = sub.next();
    const b = sub.next();
    const c = sub.next();
    hub.publish(event("s1", 0));
    hub.publish(event("s1", 1));
    hub.end("s1");
    expect((await a).value?.seq).toBe(0);
    expect((await b).value?.seq).toBe(1);
    expect((await c).done).toBe(true);
  });

  it("wakes every waiting subscriber of a submission", async () => {
    const hub = new EventHub({ retain: 4 });
    hub.open("s1");
    const one = hub.subscribe("s1").next();
    const two = hub.subscribe("s1").next();
    hub.publish(event("s1", 7));
    expect([(await one).value?.seq, (await two).value?.seq]).toEqual([7, 7]);
  });

  it("stops delivering to a removed listener and forgets expired submissions", () => {
    const hub = new EventHub({ retain: 1 });
    const seen: number[] = [];
    const off = hub.on((ev) => seen.push(ev.seq));
    hub.open("s1");
    hub.publish(event("s1", 0));
    off();
    hub.publish(event("s1", 1));
    hub.end("s1");
    hub.open("s2");
    hub.end("s2");
    expect(seen).toEqual([0]);
    expect(() => hub.subscribe("s1")).toThrow(/unknown or expired submission s1/);
  });
});

describe("isPromiseLike", () => {
  it("recognizes promises and thenables, nothing else", () => {
    expect(isPromiseLike(Promise.resolve(1))).toBe(true);
    // biome-ignore lint/suspicious/noThenProperty: a hand-made thenable is the case under test
    expect(isPromiseLike({ then: () => {} })).toBe(true);
    expect(isPromiseLike({ system: "x", tools: [] })).toBe(false);
    expect(isPromiseLike(null)).toBe(false);
    expect(isPromiseLike("then")).toBe(false);
  });
});
