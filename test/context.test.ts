import { describe, expect, it } from "vitest";
import { z } from "zod";
import { microcompact } from "../src/context/strategies/microcompact.ts";
import { MemoryThreadStore } from "../src/conversation/memory-store.ts";
import { replayRollout } from "../src/conversation/replay.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import type { Event } from "../src/protocol/index.ts";
import { defineTool } from "../src/tool/define.ts";
import { echoTool } from "./helpers/engine.ts";
import { shape } from "./helpers/events.ts";

/** A read tool that returns `size` characters (about size/4 heuristic tokens). */
const bigRead = defineTool({
  name: "read_big",
  description: "Returns a large file.",
  schema: z.object({ name: z.string(), size: z.number() }),
  readOnly: true,
  execute: ({ name, size }) =>
    `${name} header\n${"lorem ipsum ".repeat(Math.ceil(size / 12))}`.slice(0, size),
});

async function open(
  script: ConstructorParameters<typeof SimClient>[0]["script"],
  extra: Partial<Parameters<typeof AgentEngine.open>[0]> = {},
) {
  const events: Event[] = [];
  const store = new MemoryThreadStore();
  const model = new SimClient({ script, cache: { style: "anthropic", minTokens: 256 } });
  const engine = await AgentEngine.open({
    model,
    store,
    tools: [bigRead, echoTool()],
    listeners: [(e) => events.push(e)],
    ...extra,
  });
  return { engine, events, store, model };
}

describe("prompt prefix stability", () => {
  it("sends the same system and tools every call, and every history is a prefix of the next", async () => {
    const requests: ModelRequest[] = [];
    const record =
      (step: { text?: string; toolCalls?: { name: string; arguments: Record<string, unknown> }[] }) =>
      (req: ModelRequest) => {
        requests.push(structuredClone(req));
        return step;
      };
    const { engine } = await open(
      [
        record({ toolCalls: [{ name: "echo", arguments: { v: "1" } }] }),
        record({ text: "one" }),
        record({ text: "two" }),
        record({ toolCalls: [{ name: "echo", arguments: { v: "3" } }] }),
        record({ text: "three" }),
      ],
      { system: "You are careful." },
    );
    await engine.submitAndWait("first");
    await engine.submitAndWait("second");
    await engine.submitAndWait("third");
    expect(requests).toHaveLength(5);
    const head = (r: ModelRequest) => JSON.stringify({ system: r.system, tools: r.tools });
    for (let i = 1; i < requests.length; i++) {
      const prev = requests[i - 1] as ModelRequest;
      const cur = requests[i] as ModelRequest;
      expect(head(cur)).toBe(head(prev));
      expect(JSON.stringify(cur.items.slice(0, prev.items.length))).toBe(JSON.stringify(prev.items));
    }
    expect(requests.map((r) => r.tools.map((t) => t.name))).toEqual(
      Array(5).fill(["echo", "read_artifact", "read_big"]),
    );
  });
});

describe("compaction in the turn loop", () => {
  it("microcompacts mid-turn when tool outputs push the prompt over the trigger, and checkpoints it", async () => {
    const read = (n: number) => ({
      toolCalls: [{ name: "read_big", arguments: { name: `f${n}`, size: 4000 } }],
    });
    const { engine, events, store } = await open([read(1), read(2), read(3), read(4), { text: "done" }], {
      context: {
        contextWindow: 4000,
        reserveOutputTokens: 0,
        compactAt: 0.7,
        targetAfter: 0.5,
        strategies: [microcompact({ keepRecent: 1, minTokens: 200 })],
      },
    });
    await engine.submitAndWait("read four files");
    const compactions = events.filter((e) => e.msg.type.startsWith("compaction"));
    // The planner says why before the strategy runs: the next call would not fit.
    expect(shape(compactions).slice(0, 3)).toEqual([
      "compaction_planned",
      "compaction_started",
      "compaction_completed",
    ]);
    expect(compactions[0]?.msg).toMatchObject({ action: "trim", reason: "forced", cacheStyle: "anthropic" });
    const done = compactions.find((e) => e.msg.type === "compaction_completed")?.msg;
    expect(done).toMatchObject({
      type: "compaction_completed",
      strategy: "microcompact",
      trigger: "mid_turn",
    });
    if (done?.type !== "compaction_completed") throw new Error("no compaction");
    expect(done.tokensAfter).toBeLessThan(done.tokensBefore);
    expect(done.cachedTokensInvalidated).toBeGreaterThan(0);
    expect(events.at(-1)?.msg).toMatchObject({ type: "turn_completed", text: "done" });
    const stubs = engine.items.filter(
      (i) => i.type === "function_call_output" && String(i.output).startsWith("[output trimmed"),
    );
    expect(stubs.length).toBeGreaterThan(0);
    // the checkpoint replays to exactly the live history
    const lines = await store.read(engine.threadId);
    expect(lines.some((l) => l.type === "compacted")).toBe(true);
    expect(replayRollout(lines).items).toEqual(engine.items);
  });

  it("summarizes with a handoff when trimming is not enough, keeping NOTE lines and re-adding pinned state", async () => {
    const { engine, events } = await open(
      [{ text: "Noted." }, { text: "Working." }, { text: "The port is 6543." }],
      {
        context: {
          contextWindow: 3000,
          reserveOutputTokens: 0,
          compactAt: 0.6,
          targetAfter: 0.3,
          pinned: [{ name: "Todo list", read: () => "- [ ] migrate the database" }],
        },
      },
    );
    await engine.submitAndWait(`NOTE: the staging DB port is 6543.\n${"background ".repeat(400)}`);
    // The second request pushes the prompt over compactAt: the first exchange is summarized
    // (the oversized first request is not kept verbatim: it would defeat the summary).
    const second = await engine.submitAndWait(`More context: ${"details ".repeat(500)}`);
    const done = second.find((e) => e.msg.type === "compaction_completed")?.msg;
    expect(done).toMatchObject({ strategy: "handoff_summary", trigger: "pre_sampling" });
    if (done?.type !== "compaction_completed") throw new Error("no compaction");
    expect(done.tokensAfter).toBeLessThan(done.tokensBefore);
    await engine.submitAndWait("Which port does staging use?");
    const [summary, pinned] = engine.items;
    expect(summary?.type).toBe("compaction");
    expect(summary?.type === "compaction" && summary.summary).toContain("NOTE: the staging DB port is 6543.");
    expect(pinned).toEqual({
      type: "message",
      role: "system",
      content: [
        {
          type: "text",
          text: "[Pinned state, re-added after compaction]\n\n## Todo list\n- [ ] migrate the database",
        },
      ],
    });
    expect(events.at(-1)?.msg).toMatchObject({ type: "turn_completed", text: "The port is 6543." });
  });

  it("recovers from a context_overflow error by compacting and retrying once", async () => {
    const { engine, events } = await open([
      { text: `first answer ${"findings ".repeat(1000)}` },
      { error: { code: "context_overflow", message: "prompt is too long" } },
      { text: "recovered" },
    ]);
    await engine.submitAndWait("earlier work");
    const turn = await engine.submitAndWait("continue");
    expect(shape(turn).filter((s) => /compaction|model_call|turn_/.test(s))).toEqual([
      "turn_started",
      "model_call_started 1",
      "model_call_completed 1 error",
      "compaction_started",
      "compaction_completed",
      "model_call_started 2",
      "model_call_completed 2 stop",
      "turn_completed",
    ]);
    expect(turn.find((e) => e.msg.type === "compaction_completed")?.msg).toMatchObject({
      trigger: "overflow",
    });
    expect(events.at(-1)?.msg).toMatchObject({ type: "turn_completed", text: "recovered" });
  });

  it("fails the turn, without sending the same request again, when nothing can be shrunk", async () => {
    const { engine } = await open({
      steps: [{ error: { code: "context_overflow" } }],
      onExhausted: "repeat_last",
    });
    const events = await engine.submitAndWait("x");
    expect(events.at(-1)?.msg).toMatchObject({ type: "turn_failed", error: { code: "context_overflow" } });
    const end = events.at(-1)?.msg;
    expect(end?.type === "turn_failed" && end.error.message).toContain(
      "the history could not be shrunk, so the same request was not sent again",
    );
    expect(events.filter((e) => e.msg.type === "model_call_started")).toHaveLength(1);
  });

  it("compacts on demand with the compact op", async () => {
    // A long answer is what makes summarizing worth it (a summary longer than the history it
    // replaces is discarded with a compaction_ineffective warning).
    const { engine } = await open([{ text: `a ${"long answer ".repeat(800)}` }, { text: "b" }]);
    await engine.submitAndWait("one");
    await engine.submitAndWait("two");
    const events = await engine.submitAndWait({ type: "compact" });
    expect(shape(events)).toEqual(["compaction_started", "compaction_completed"]);
    expect(events[1]?.msg).toMatchObject({ strategy: "handoff_summary", trigger: "manual" });
    expect(engine.items[0]?.type).toBe("compaction");
    const { engine: off } = await open([], { context: false });
    expect(shape(await off.submitAndWait({ type: "compact" }))).toEqual([
      "op_rejected compact compaction_unavailable",
    ]);
  });
});

describe("budgets from the model catalog", () => {
  it("takes the context window and answer reserve from the catalog entry of the model", async () => {
    const { ModelCatalog } = await import("../src/llm/catalog.ts");
    const catalog = new ModelCatalog([]).extend([
      { model: "tiny", provider: "sim", contextWindow: 2000, maxOutputTokens: 100 },
    ]);
    const events: Event[] = [];
    const model = new SimClient({
      script: { steps: [{ text: "ok" }], onExhausted: "repeat_last" },
      name: "tiny",
    });
    const engine = await AgentEngine.open({ model, catalog, listeners: [(e) => events.push(e)] });
    // 2,000-token window, 100 reserved: a ~1,950-token history is over 80% of the usable 1,900.
    await engine.submitAndWait(`first ${"words ".repeat(1300)}`);
    await engine.submitAndWait("second");
    expect(events.some((e) => e.msg.type === "compaction_started")).toBe(true);
    // The same session on a model the catalog does not know keeps the 128k default: no compaction.
    const other: Event[] = [];
    const unknown = await AgentEngine.open({
      model: new SimClient({
        script: { steps: [{ text: "ok" }], onExhausted: "repeat_last" },
        name: "unknown",
      }),
      catalog,
      listeners: [(e) => other.push(e)],
    });
    await unknown.submitAndWait(`first ${"words ".repeat(1300)}`);
    await unknown.submitAndWait("second");
    expect(other.some((e) => e.msg.type === "compaction_started")).toBe(false);
  });
});
