import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SimClient } from "../llm/sim/sim-client.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { Event } from "../protocol/index.ts";
import { createRedactor } from "../redact/redactor.ts";
import { consoleSink } from "./console-sink.ts";
import { jsonlSink } from "./jsonl-sink.ts";
import { createSinks, type EventSink } from "./sinks.ts";

const redactor = createRedactor({ env: false, values: ["hunter2-password"] });

async function runTurns(listeners: ((ev: Event) => void)[], sinkListener: EventSink[], n = 1) {
  const hub = createSinks(sinkListener, { redactor, maxPending: 50 });
  const seen: Event[] = [];
  const engine = await AgentEngine.open({
    model: new SimClient({
      script: Array.from({ length: n }, (_, i) => ({ text: [`answer ${i} hunter2-password`] })),
    }),
    cwd: "/tmp",
    listeners: [...listeners, hub.listener, (ev) => seen.push(ev)],
  });
  for (let i = 0; i < n; i++) {
    await engine.submitAndWait(`q${i}`);
    // A macrotask between turns, as real model calls give: the hub drains there.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { hub, engine, seen };
}

describe("SinkHub", () => {
  it("hands redacted batches to every sink after the turn, in order", async () => {
    const got: Event[] = [];
    const { hub, engine, seen } = await runTurns(
      [],
      [{ name: "mem", write: (evs) => void got.push(...evs) }],
    );
    // Nothing is delivered inside the turn: the listener only queued.
    await hub.flush();
    expect(got.map((e) => e.seq)).toEqual(seen.map((e) => e.seq));
    expect(JSON.stringify(got)).not.toContain("hunter2-password");
    expect(JSON.stringify(got)).toContain("[REDACTED:secret]");
    // The engine's own events are untouched: redaction copies.
    expect(JSON.stringify(seen)).toContain("hunter2-password");
    await engine.close();
    await hub.close();
  });

  it("a throwing sink costs one warning, never the turn, and the other sinks carry on", async () => {
    const good: Event[] = [];
    const bad: EventSink = {
      name: "broken",
      write: () => {
        throw new Error("disk on fire");
      },
    };
    const { hub, engine, seen } = await runTurns(
      [],
      [bad, { name: "ok", write: (evs) => void good.push(...evs) }],
      3,
    );
    await hub.flush();
    const turnEnds = seen.filter((e) => e.msg.type.startsWith("turn_"));
    expect(turnEnds.map((e) => e.msg.type)).toEqual([
      "turn_started",
      "turn_completed",
      "turn_started",
      "turn_completed",
      "turn_started",
      "turn_completed",
    ]);
    const warnings = seen.filter((e) => e.msg.type === "warning");
    expect(warnings.map((e) => e.msg)).toEqual([
      { type: "warning", code: "sink_failed", message: expect.stringContaining("sink broken failed") },
    ]);
    expect(good.map((e) => e.seq)).toEqual(seen.map((e) => e.seq));
    expect(hub.stats().find((s) => s.name === "broken")?.dropped).toBeGreaterThan(0);
    await engine.close();
    await hub.close();
  });

  it("a sink that never answers stalls nothing: events past the bound are dropped and reported once, flush is bounded", async () => {
    const hung: EventSink = { name: "hung", write: () => new Promise(() => {}) };
    const t0 = performance.now();
    const { hub, engine, seen } = await runTurns([], [hung], 20);
    expect(seen.filter((e) => e.msg.type === "turn_completed")).toHaveLength(20);
    await hub.flush(50);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(seen.filter((e) => e.msg.type === "warning" && e.msg.code === "sink_failed")).toHaveLength(1);
    const stats = hub.stats()[0];
    expect(stats?.dropped).toBeGreaterThan(0);
    expect(stats?.pending).toBe(50);
    await engine.close();
    await hub.close(50);
  });
});

describe("jsonlSink", () => {
  it("writes one line per event, per thread, and rotates by size keeping maxFiles", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taifeng-jsonl-"));
    try {
      const sink = jsonlSink({ dir, per: "thread", maxBytes: 2_000, maxFiles: 2 });
      const { hub, engine, seen } = await runTurns([], [sink], 12);
      await engine.close();
      await hub.close();
      const files = (await readdir(dir)).sort();
      const id = engine.threadId;
      expect(files).toEqual([`${id}.1.events.jsonl`, `${id}.2.events.jsonl`, `${id}.events.jsonl`]);
      const lines: string[] = [];
      for (const f of [`${id}.2.events.jsonl`, `${id}.1.events.jsonl`, `${id}.events.jsonl`]) {
        const text = await readFile(join(dir, f), "utf8");
        expect(Buffer.byteLength(text)).toBeLessThanOrEqual(2_000);
        lines.push(...text.split("\n").filter((l) => l !== ""));
      }
      const seqs = lines.map((l) => (JSON.parse(l) as Event).seq);
      // The newest events survive, contiguous and in order; the oldest file was deleted.
      expect(seqs).toEqual(seen.slice(seen.length - seqs.length).map((e) => e.seq));
      expect(seqs.at(-1)).toBe(seen.at(-1)?.seq);
      expect(lines.join("\n")).not.toContain("hunter2-password");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("consoleSink", () => {
  it("prints one short line per event without deltas", async () => {
    let out = "";
    const { hub, engine } = await runTurns([], [consoleSink({ out: { write: (t: string) => (out += t) } })]);
    await hub.flush();
    const types = out
      .trim()
      .split("\n")
      .map((l) => l.split(" ")[2]);
    expect(types).toEqual([
      "thread_opened",
      "turn_started",
      "user_message",
      "model_call_started",
      "assistant_message",
      "model_call_completed",
      "turn_completed",
    ]);
    expect(out).toContain("[REDACTED:secret]");
    await engine.close();
    await hub.close();
  });
});
