import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { microcompact } from "../../src/context/strategies/microcompact.ts";
import { withFallback } from "../../src/llm/fallback.ts";
import { withRetry } from "../../src/llm/retry.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import type { ModelClient, StreamOptions } from "../../src/llm/types.ts";
import { AgentEngine, type EngineOptions } from "../../src/loop/engine.ts";
import { SkillRuntime } from "../../src/skill/index.ts";
import { createOtel, type OtelOptions } from "../../src/telemetry/otel.ts";
import { ATTR } from "../../src/telemetry/semconv.ts";
import { defineTool } from "../../src/tool/define.ts";
import { echoTool, hangingTool, nextEvent } from "../helpers/engine.ts";
import { recorder, shape } from "../helpers/events.ts";
import { agentsModel, tempDir, writeSkill } from "../helpers/skills.ts";
import { literalRedactor, memoryOtel, spanTree } from "./otel-helpers.ts";

let otel: ReturnType<typeof memoryOtel>;
afterEach(async () => otel?.shutdown());

async function openTraced(options: EngineOptions, extra: Partial<OtelOptions> = {}) {
  otel = memoryOtel();
  const layer = createOtel({
    redactor: literalRedactor(["sk-live-SECRET"]),
    tracerProvider: otel.tracerProvider,
    meterProvider: otel.meterProvider,
    ...extra,
  });
  const rec = recorder();
  const engine = await AgentEngine.open(
    layer.instrument({ cwd: "/tmp", ...options, listeners: [...(options.listeners ?? []), rec.listener] }),
  );
  return { engine, layer, events: rec.events };
}

const byName = (spans: readonly ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

describe("OpenTelemetry spans for whole turns", () => {
  it("nests chat and execute_tool under invoke_agent with the GenAI attributes, and records the metrics", async () => {
    const sim = new SimClient({
      name: "demo",
      script: [
        {
          toolCalls: [{ name: "echo", arguments: { v: "x" } }],
          usage: { inputTokens: 50, outputTokens: 10, cachedInputTokens: 20 },
        },
        { text: ["done"], usage: { inputTokens: 70, outputTokens: 5 } },
      ],
    });
    const { engine } = await openTraced({ model: sim, tools: [echoTool()] });
    await engine.submitAndWait("hi");
    const spans = await otel.spans();
    expect(spanTree(spans)).toEqual([
      "invoke_agent taifeng",
      "  chat demo",
      "  execute_tool echo",
      "  chat demo",
    ]);
    const [chat1] = byName(spans, "chat demo");
    expect(chat1?.kind).toBe(2); // CLIENT
    expect(chat1?.attributes).toMatchObject({
      [ATTR.operationName]: "chat",
      [ATTR.providerName]: "taifeng.sim",
      [ATTR.requestModel]: "demo",
      [ATTR.conversationId]: engine.threadId,
      [ATTR.responseFinishReasons]: ["tool_calls"],
      [ATTR.usageInputTokens]: 50,
      [ATTR.usageOutputTokens]: 10,
      [ATTR.usageCacheReadTokens]: 20,
      // The simulator names its responses like a provider: the model and the call's number.
      [ATTR.responseId]: "sim:demo#1",
      [ATTR.responseModel]: "demo",
    });
    expect(byName(spans, "chat demo")[1]?.attributes[ATTR.responseId]).toBe("sim:demo#2");
    expect(byName(spans, "execute_tool echo")[0]?.attributes).toMatchObject({
      [ATTR.toolName]: "echo",
      [ATTR.toolCallId]: "call_1_1",
      [ATTR.toolType]: "function",
      [ATTR.toolStatus]: "ok",
    });
    const agent = byName(spans, "invoke_agent taifeng")[0];
    expect(agent?.attributes).toMatchObject({
      [ATTR.operationName]: "invoke_agent",
      [ATTR.conversationId]: engine.threadId,
      [ATTR.turnOutcome]: "completed",
      [ATTR.usageInputTokens]: 120,
    });
    // Content is off by default.
    for (const s of spans)
      expect(Object.keys(s.attributes).filter((k) => k.includes("messages"))).toEqual([]);

    const metrics = await otel.metrics();
    const metric = (name: string) => metrics.find((m) => m.descriptor.name === name);
    const tokens = metric("gen_ai.client.token.usage");
    expect(tokens?.descriptor.unit).toBe("{token}");
    const points = (tokens?.dataPoints ?? []).map((p) => [
      p.attributes[ATTR.tokenType],
      (p.value as { sum: number }).sum,
    ]);
    expect(points).toEqual(
      expect.arrayContaining([
        ["input", 120],
        ["output", 15],
      ]),
    );
    expect(metric("gen_ai.client.operation.duration")?.descriptor.unit).toBe("s");
    expect(metric("taifeng.turns")?.dataPoints.map((p) => [p.attributes[ATTR.turnOutcome], p.value])).toEqual(
      [["completed", 1]],
    );
    expect(metric("taifeng.tool.calls")?.dataPoints.map((p) => p.attributes)).toEqual([
      { [ATTR.toolName]: "echo", [ATTR.toolStatus]: "ok" },
    ]);
    await engine.close();
  });

  it("shows retries and fallbacks as events on the chat span, and a failed turn as an error", async () => {
    const flaky = new SimClient({
      name: "flaky",
      script: [{ error: { code: "server" } }, { error: { code: "server" } }],
    });
    const backup = new SimClient({ name: "backup", script: [{ error: { code: "auth" } }] });
    const model = withFallback([withRetry(flaky, { maxAttempts: 2, baseDelayMs: 1 }), backup]);
    const { engine } = await openTraced({ model });
    await engine.submitAndWait("go");
    const spans = await otel.spans();
    expect(spanTree(spans)).toEqual(["invoke_agent taifeng [error]", "  chat flaky [error]"]);
    const chat = byName(spans, "chat flaky")[0];
    expect(chat?.events.map((e) => [e.name, e.attributes?.[ATTR.errorType]])).toEqual([
      ["taifeng.model.retry", "server"],
      ["taifeng.model.fallback", "server"],
    ]);
    expect(chat?.attributes[ATTR.errorType]).toBe("auth");
    expect(byName(spans, "invoke_agent taifeng")[0]?.attributes[ATTR.errorType]).toBe("auth");
    const duration = (await otel.metrics()).find(
      (m) => m.descriptor.name === "gen_ai.client.operation.duration",
    );
    expect(duration?.dataPoints[0]?.attributes[ATTR.errorType]).toBe("auth");
    await engine.close();
  });

  it("records mid-turn compaction as a taifeng.compaction span inside the turn", async () => {
    const bigRead = defineTool({
      name: "read_big",
      description: "Returns a large file.",
      schema: z.object({ name: z.string() }),
      readOnly: true,
      execute: ({ name }) => `${name}\n${"lorem ipsum ".repeat(340)}`,
    });
    const read = (n: number) => ({ toolCalls: [{ name: "read_big", arguments: { name: `f${n}` } }] });
    const { engine } = await openTraced({
      model: new SimClient({
        name: "long",
        script: [read(1), read(2), read(3), read(4), { text: ["done"] }],
      }),
      tools: [bigRead],
      context: {
        contextWindow: 4000,
        reserveOutputTokens: 0,
        compactAt: 0.7,
        targetAfter: 0.5,
        strategies: [microcompact({ keepRecent: 1, minTokens: 200 })],
      },
    });
    await engine.submitAndWait("read four files");
    const spans = await otel.spans();
    const compaction = byName(spans, "taifeng.compaction microcompact")[0];
    const agent = byName(spans, "invoke_agent taifeng")[0];
    expect(compaction?.parentSpanContext?.spanId).toBe(agent?.spanContext().spanId);
    expect(compaction?.attributes).toMatchObject({
      [ATTR.compactionTrigger]: "mid_turn",
      [ATTR.compactionStrategy]: "microcompact",
    });
    expect(Number(compaction?.attributes[ATTR.compactionTokensAfter])).toBeLessThan(
      Number(compaction?.attributes[ATTR.compactionTokensBefore]),
    );
    await engine.close();
  });

  it("ends an interrupted turn's spans with an error status", async () => {
    const { engine } = await openTraced({
      model: new SimClient({ name: "hang", script: [{ toolCalls: [{ name: "hang", arguments: {} }] }] }),
      tools: [hangingTool()],
    });
    const started = nextEvent(engine, (e) => e.msg.type === "tool_call_started");
    const id = engine.submit("go");
    await started;
    engine.submit({ type: "interrupt" });
    for await (const _ of engine.subscribe(id));
    const spans = await otel.spans();
    expect(spanTree(spans)).toEqual([
      "invoke_agent taifeng [error]",
      "  chat hang",
      "  execute_tool hang [error]",
    ]);
    expect(byName(spans, "invoke_agent taifeng")[0]?.attributes[ATTR.errorType]).toBe("aborted_interrupt");
    expect(byName(spans, "execute_tool hang")[0]?.attributes[ATTR.toolStatus]).toBe("aborted");
    await engine.close();
  });

  it("puts the chat span's W3C trace context on the provider request", async () => {
    const seen: StreamOptions[] = [];
    const sim = new SimClient({ name: "spy", script: [{ text: ["ok"] }] });
    const spy: ModelClient = {
      id: sim.id,
      stream: (req, opts) => {
        seen.push(opts ?? {});
        return sim.stream(req, opts);
      },
    };
    const { engine } = await openTraced({ model: withRetry(spy) });
    await engine.submitAndWait("go");
    const chat = byName(await otel.spans(), "chat spy")[0];
    const sc = chat?.spanContext();
    expect(seen[0]?.headers?.traceparent).toBe(`00-${sc?.traceId}-${sc?.spanId}-01`);
    await engine.close();
  });

  it("records hooks and permission waits as Taifeng spans", async () => {
    const { engine, events } = await openTraced({
      model: new SimClient({
        name: "perm",
        script: [{ toolCalls: [{ name: "write", arguments: { v: "1" } }] }, { text: ["done"] }],
      }),
      tools: [echoTool("write", { readOnly: false })],
      hooks: { hooks: [{ point: "pre_model", name: "audit-model", run: () => undefined }] },
      permissions: { rules: { ask: ["write"] }, interactive: true },
    });
    const off = engine.on((ev) => {
      if (ev.msg.type === "permission_requested")
        engine.submit({ type: "approval", requestId: ev.msg.requestId, decision: "allow_once" });
    });
    await engine.submitAndWait("go");
    off();
    expect(shape(events).filter((l) => l.startsWith("permission"))).toEqual([
      "permission_requested",
      "permission_resolved",
    ]);
    const tree = spanTree(await otel.spans());
    expect(tree).toEqual([
      "invoke_agent taifeng",
      "  chat perm",
      "  taifeng.hook pre_model",
      "  execute_tool write",
      "    taifeng.permission_wait write",
      "  chat perm",
      "  taifeng.hook pre_model",
    ]);
    await engine.close();
  });

  it("nests a child skill's run and its tool calls under the call_skill span", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeSkill(
        dir,
        "lookup",
        "name: lookup\ndescription: Looks things up.",
        "Use echo, then answer.",
      );
      const runtime = await SkillRuntime.open({ dirs: [dir], defaults: false });
      const model = agentsModel({
        root: [
          { toolCalls: [{ name: "call_skill", arguments: { name: "lookup", input: "q" } }] },
          { text: ["root done"] },
        ],
        lookup: [{ toolCalls: [{ name: "echo", arguments: { v: "inner" } }] }, { text: ["found"] }],
      });
      // What each provider request carried (the root's and the child's calls).
      const sent: Record<string, string | undefined>[] = [];
      const watched: ModelClient = {
        id: model.id,
        stream: (request, options?: StreamOptions) => {
          sent.push({ traceparent: options?.headers?.traceparent });
          return model.stream(request, options);
        },
      };
      const { engine } = await openTraced({
        model: watched,
        tools: [echoTool()],
        ...runtime.engineOptions(),
      });
      await engine.submitAndWait("go");
      expect(spanTree(await otel.spans())).toEqual([
        "invoke_agent taifeng",
        "  chat agents",
        "  execute_tool call_skill",
        "    invoke_agent lookup",
        "      chat agents",
        "      execute_tool echo",
        "      chat agents",
        "  chat agents",
      ]);
      // The child's model calls belong to the child's thread and carry its trace context.
      const spans = await otel.spans();
      const chats = byName(spans, "chat agents");
      const root = byName(spans, "invoke_agent taifeng")[0];
      expect(new Set(chats.map((s) => s.spanContext().traceId))).toEqual(
        new Set([root?.spanContext().traceId]),
      );
      const conversations = chats.map((s) => s.attributes[ATTR.conversationId]);
      expect(conversations.filter((c) => c === engine.threadId)).toHaveLength(2);
      expect(new Set(conversations.filter((c) => c !== engine.threadId)).size).toBe(1);
      expect(sent.filter((h) => h.traceparent !== undefined)).toHaveLength(4);
      expect(new Set(sent.map((h) => h.traceparent?.split("-")[1]))).toEqual(
        new Set([root?.spanContext().traceId]),
      );
      const skill = byName(await otel.spans(), "invoke_agent lookup")[0];
      expect(skill?.attributes).toMatchObject({ [ATTR.skillName]: "lookup", [ATTR.skillOk]: true });
      await engine.close();
      runtime.close();
    } finally {
      await cleanup();
    }
  });

  it("records the request's max_tokens and temperature when the request sets them", async () => {
    otel = memoryOtel();
    const layer = createOtel({
      redactor: literalRedactor([]),
      tracerProvider: otel.tracerProvider,
      meterProvider: otel.meterProvider,
    });
    const sim = new SimClient({ name: "params", script: [{ text: ["ok"] }] });
    const model = layer.wrapModel(sim);
    const ctx = { emit: () => {} };
    const ev = (seq: number, msg: object) =>
      ({ threadId: "thr_p", turnId: "turn_p", submissionId: "sub_p", seq, ts: Date.now(), msg }) as never;
    layer.listener(ev(0, { type: "turn_started", model: "sim:params" }), ctx);
    layer.listener(ev(1, { type: "model_call_started", step: 1, model: "sim:params" }), ctx);
    const request = {
      system: "",
      items: [],
      tools: [],
      threadId: "thr_p",
      maxOutputTokens: 100,
      temperature: 0.2,
    };
    for await (const _ of model.stream(request));
    const usage = {
      inputTokens: 1,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 1,
      reasoningTokens: 0,
    };
    layer.listener(
      ev(2, {
        type: "model_call_completed",
        step: 1,
        model: "sim:params",
        finishReason: "stop",
        usage,
        durationMs: 1,
      }),
      ctx,
    );
    expect(byName(await otel.spans(), "chat params")[0]?.attributes).toMatchObject({
      [ATTR.requestMaxTokens]: 100,
      [ATTR.requestTemperature]: 0.2,
    });
  });

  it("with no SDK registered does nothing: no spans, no headers, no warnings", async () => {
    const seen: StreamOptions[] = [];
    const sim = new SimClient({ name: "quiet", script: [{ text: ["ok"] }] });
    const spy: ModelClient = {
      id: sim.id,
      stream: (req, opts) => {
        seen.push(opts ?? {});
        return sim.stream(req, opts);
      },
    };
    const layer = createOtel({ redactor: literalRedactor([]) }); // the API's global no-op providers
    const rec = recorder();
    const engine = await AgentEngine.open(
      layer.instrument({ model: spy, cwd: "/tmp", listeners: [rec.listener] }),
    );
    await engine.submitAndWait("go");
    expect(seen).toEqual([{ signal: expect.any(AbortSignal) }]);
    expect(shape(rec.events).filter((l) => l.startsWith("warning"))).toEqual([]);
    expect(rec.events.at(-1)?.msg.type).toBe("turn_completed");
    await engine.close();
  });

  it("turns its own failure into one warning and never fails the turn", async () => {
    otel = memoryOtel();
    const broken = {
      getTracer: () => {
        throw new Error("tracer exploded");
      },
    };
    const layer = createOtel({
      redactor: literalRedactor([]),
      tracerProvider: {
        getTracer: () => ({ startSpan: broken.getTracer, startActiveSpan: broken.getTracer }),
      } as never,
      meterProvider: otel.meterProvider,
    });
    const rec = recorder();
    const engine = await AgentEngine.open(
      layer.instrument({
        model: new SimClient({ script: [{ text: ["a"] }, { text: ["b"] }] }),
        cwd: "/tmp",
        listeners: [rec.listener],
      }),
    );
    await engine.submitAndWait("1");
    await engine.submitAndWait("2");
    expect(shape(rec.events).filter((l) => l.startsWith("warning") || l.startsWith("turn_"))).toEqual([
      "turn_started",
      "warning telemetry_failed",
      "turn_completed",
      "turn_started",
      "turn_completed",
    ]);
    await engine.close();
  });
});

describe("content capture", () => {
  const secretTurn = () =>
    new SimClient({
      name: "c",
      script: [
        { toolCalls: [{ name: "echo", arguments: { v: "sk-live-SECRET" } }] },
        { text: ["key sk-live-SECRET"] },
      ],
    });

  it("needs both the option and the OTEL_SEMCONV_STABILITY_OPT_IN opt-in", async () => {
    const { engine, layer } = await openTraced(
      { model: secretTurn(), tools: [echoTool()] },
      { captureContent: true, env: {} },
    );
    expect(layer.capturesContent).toBe(false);
    await engine.submitAndWait("my key is sk-live-SECRET");
    for (const s of await otel.spans()) expect(s.attributes[ATTR.inputMessages]).toBeUndefined();
    await engine.close();
  });

  it("records prompts, answers and tool traffic as the conventions say, redacted", async () => {
    const { engine } = await openTraced(
      { model: secretTurn(), tools: [echoTool()], system: "Be brief." },
      { captureContent: true, env: { OTEL_SEMCONV_STABILITY_OPT_IN: "http,gen_ai_latest_experimental" } },
    );
    await engine.submitAndWait("my key is sk-live-SECRET");
    const spans = await otel.spans();
    const [chat1, chat2] = byName(spans, "chat c");
    expect(JSON.parse(String(chat1?.attributes[ATTR.inputMessages]))).toEqual([
      { role: "user", parts: [{ type: "text", content: "my key is [REDACTED]" }] },
    ]);
    expect(JSON.parse(String(chat1?.attributes[ATTR.systemInstructions]))).toEqual([
      { type: "text", content: "Be brief." },
    ]);
    expect(JSON.parse(String(chat1?.attributes[ATTR.outputMessages]))).toEqual([
      {
        role: "assistant",
        parts: [{ type: "tool_call", id: "call_1_1", name: "echo", arguments: '{"v":"[REDACTED]"}' }],
        finish_reason: "tool_calls",
      },
    ]);
    expect(JSON.parse(String(chat2?.attributes[ATTR.inputMessages])).at(-1)).toEqual({
      role: "tool",
      parts: [{ type: "tool_call_response", id: "call_1_1", response: "echo:[REDACTED]" }],
    });
    const tool = byName(spans, "execute_tool echo")[0];
    expect(tool?.attributes[ATTR.toolCallArguments]).toBe('{"v":"[REDACTED]"}');
    expect(tool?.attributes[ATTR.toolCallResult]).toBe("echo:[REDACTED]");
    expect(JSON.stringify(spans.map((s) => [s.attributes, s.events]))).not.toContain("sk-live-SECRET");
    await engine.close();
  });
});
