import { describe, expect, it } from "vitest";
import type { Event } from "../protocol/index.ts";
import { type FrameSink, ThreadChannel } from "./channel.ts";

/** A sink that accepts `capacity` writes before reporting a full socket, until drained. */
function sink(capacity = Number.POSITIVE_INFINITY) {
  const listeners = new Map<string, (() => void)[]>();
  const s = {
    chunks: [] as string[],
    ended: false,
    full: false,
    writes: 0,
    writableLength: 0,
    write(chunk: string | Uint8Array) {
      s.chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
      s.writes++;
      if (s.writes >= capacity) s.full = true;
      return !s.full;
    },
    once(event: string, fn: () => void) {
      listeners.set(event, [...(listeners.get(event) ?? []), fn]);
    },
    off(event: string, fn: () => void) {
      listeners.set(
        event,
        (listeners.get(event) ?? []).filter((f) => f !== fn),
      );
    },
    end() {
      s.ended = true;
    },
    drain() {
      s.full = false;
      s.writes = 0;
      const fns = listeners.get("drain") ?? [];
      listeners.set("drain", []);
      for (const f of fns) f();
    },
    /** The SSE ids received, in order. */
    ids: () => [...s.chunks.join("").matchAll(/^id: (\S+)$/gm)].map((m) => m[1]),
  };
  return s as typeof s & FrameSink;
}

const ev = (i: number): Event => ({
  threadId: "thr_1",
  submissionId: "sub_1",
  turnId: "turn_1",
  seq: i,
  ts: 1_000 + i,
  msg: { type: "assistant_text", delta: `d${i}` },
});
const tick = () => new Promise((r) => setImmediate(r));

describe("ThreadChannel", () => {
  it("numbers live events N.K after the transcript line count and batches one write per viewer per tick", async () => {
    const ch = new ThreadChannel("thr_1");
    const a = sink();
    ch.attach(a, undefined);
    ch.publish(3, ev(0));
    ch.publish(3, ev(1));
    ch.publish(5, ev(2));
    expect(a.chunks).toEqual([]); // nothing written synchronously
    await tick();
    expect(a.ids()).toEqual(["3.0", "3.1", "5.0"]);
    expect(a.chunks).toHaveLength(1);
  });

  it("pauses a viewer whose socket is full and sends it the rest, in order and once, when it drains", async () => {
    const ch = new ThreadChannel("thr_1");
    const fast = sink();
    const slow = sink(1);
    ch.attach(fast, undefined);
    ch.attach(slow, undefined);
    ch.publish(1, ev(0));
    await tick();
    for (let i = 1; i < 6; i++) {
      ch.publish(1, ev(i));
      await tick();
    }
    expect(fast.ids()).toEqual(["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"]);
    expect(slow.ids()).toEqual(["1.0"]); // paused after its first write
    slow.drain();
    expect(slow.ids()).toEqual(["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"]);
    ch.publish(2, ev(6));
    await tick();
    expect(slow.ids().slice(-1)).toEqual(["1.5"]); // full again after the catch-up write
    slow.drain();
    expect(slow.ids()).toEqual(["1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "2.0"]);
    expect(slow.ended).toBe(false);
  });

  it("disconnects a paused viewer that fell out of the retained events (it resumes with Last-Event-ID)", async () => {
    const ch = new ThreadChannel("thr_1", { retain: 8 });
    const slow = sink(1);
    ch.attach(slow, undefined);
    ch.publish(1, ev(0));
    await tick();
    for (let i = 1; i < 20; i++) ch.publish(1 + i, ev(i));
    await tick();
    slow.drain();
    expect(slow.ended).toBe(true);
    expect(ch.viewerCount).toBe(0);
  });

  it("resumes after a position it holds, asks for transcript lines before its oldest frame, and reports dropped deltas", async () => {
    const ch = new ThreadChannel("thr_1", { retain: 8 });
    for (let i = 0; i < 4; i++) ch.publish(7, ev(i));
    const resumed = sink();
    ch.attach(resumed, { line: 7, k: 1 });
    expect(resumed.ids()).toEqual(["7.2", "7.3"]);
    expect(ch.attach(sink(), { line: 6, k: 0 })).toEqual({ linesThrough: 7 });
    for (let i = 4; i < 20; i++) ch.publish(7, ev(i)); // the ring now starts past 7.1
    const late = sink();
    const attached = ch.attach(late, { line: 7, k: 1 });
    expect("gap" in attached && attached.gap).toBe(true);
    expect(late.chunks[0]).toMatch(/^event: gap\n/);
    expect(late.ids().at(-1)).toBe("7.19");
  });

  it("tracks requests waiting on a person until they are resolved or their turn ends", () => {
    const ch = new ThreadChannel("thr_1");
    const base = { threadId: "thr_1", submissionId: "sub_1", turnId: "turn_1", seq: 0, ts: 0 };
    ch.publish(1, {
      ...base,
      msg: {
        type: "permission_requested",
        requestId: "r1",
        callId: "c1",
        tool: "shell",
        input: {},
        suggestions: [],
      },
    });
    ch.publish(1, { ...base, msg: { type: "user_input_requested", requestId: "r2", question: "?" } });
    expect([...ch.pending.keys()]).toEqual(["r1", "r2"]);
    ch.publish(1, {
      ...base,
      msg: { type: "permission_resolved", requestId: "r1", decision: "deny", by: "user" },
    });
    expect([...ch.pending.keys()]).toEqual(["r2"]);
    ch.publish(2, {
      ...base,
      msg: {
        type: "turn_aborted",
        reason: "interrupt",
        message: "x",
        steps: 1,
        usage: {
          inputTokens: 0,
          cachedInputTokens: 0,
          cacheWriteTokens: 0,
          outputTokens: 0,
          reasoningTokens: 0,
        },
        durationMs: 1,
      },
    });
    expect(ch.pending.size).toBe(0);
  });
});
