/**
 * `GET /metrics` after real turns on a listening server: the telemetry layer's instruments in
 * the Prometheus text format, parsed strictly (HELP/TYPE before samples, label escapes,
 * cumulative histogram buckets that end in +Inf = _count), with values that match the turns.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import type { ModelClient, ModelEvent, ModelRequest } from "../../src/llm/types.ts";
import { toolOutputText } from "../../src/protocol/index.ts";
import { parsePrometheus, sampleValue } from "../helpers/prometheus.ts";
import { api, startServer, TOKEN, tempStorage } from "../helpers/server.ts";
import { frameType, openSse, type SseFrame } from "../helpers/sse.ts";

let storage: Awaited<ReturnType<typeof tempStorage>>;
beforeAll(async () => {
  storage = await tempStorage();
});
afterAll(() => storage.remove());

const auth = { authorization: `Bearer ${TOKEN}` };
const USD_PER_CALL = 0.25;

/** The scripted model, named with characters a label value must escape, reporting a cost per call. */
function pricedModel(): ModelClient {
  const sim = new SimClient({
    name: 'lab"el\\model',
    onExhausted: "repeat_last",
    script: [
      (request: ModelRequest) => {
        const last = request.items.at(-1);
        if (last?.type === "function_call_output")
          return {
            text: `tool said: ${toolOutputText(last.output)}`,
            usage: { inputTokens: 100, outputTokens: 3 },
          };
        const user = [...request.items].reverse().find((i) => i.type === "message" && i.role === "user");
        const text =
          user?.type === "message" ? user.content.map((c) => ("text" in c ? c.text : "")).join("") : "";
        const shell = /^shell: (.+)$/.exec(text);
        if (shell) return { toolCalls: [{ name: "shell", arguments: { command: shell[1] } }] };
        if (text.startsWith("slow"))
          return { text: Array.from({ length: 200 }, () => "w "), chunkDelayMs: 20 };
        return { text: "hello", usage: { inputTokens: 100, cachedInputTokens: 40, outputTokens: 5 } };
      },
    ],
  });
  const stream = (request: ModelRequest, options?: Parameters<ModelClient["stream"]>[1]) => ({
    async *[Symbol.asyncIterator](): AsyncIterator<ModelEvent> {
      for await (const ev of sim.stream(request, options))
        yield ev.type === "usage" ? { ...ev, costUsd: USD_PER_CALL } : ev;
    },
  });
  return { id: sim.id, stream };
}

const events = (frames: SseFrame[], type: string) =>
  frames
    .filter((f) => f.event === "event" && frameType(f) === type)
    .map((f) => (JSON.parse(f.data) as { msg: Record<string, unknown> }).msg);

describe("GET /metrics", () => {
  it("serves the telemetry instruments after real turns: turns by outcome, tool calls by status, token and duration histograms, cached share, cost, server gauges", async () => {
    const ran: string[] = [];
    const { server, url } = await startServer(storage.dir, ran, { model: pricedModel() });
    try {
      const created = (await (
        await api(url, "/v1/threads", { method: "POST", body: JSON.stringify({ input: "hello" }) })
      ).json()) as { threadId: string };
      const id = created.threadId;
      const stream = openSse(`${url}/v1/threads/${id}/events`, auth);
      const ends = () => stream.frames.filter((f) => /^turn_(completed|failed|aborted)$/.test(frameType(f)));
      const send = (body: unknown) =>
        api(url, `/v1/threads/${id}/ops`, { method: "POST", body: JSON.stringify(body) });
      const nextEnd = async (n: number) => {
        await stream.until(() => ends().length >= n, 60_000);
      };
      await nextEnd(1);
      // A tool call approved (ok), then one denied.
      for (const [command, decision] of [
        ["echo a", "allow_once"],
        ["echo b", "deny"],
      ] as const) {
        const before = events(stream.frames, "permission_requested").length;
        await send({ type: "user_input", text: `shell: ${command}` });
        await stream.until(() => events(stream.frames, "permission_requested").length > before, 60_000);
        const asked = events(stream.frames, "permission_requested").at(-1) as { requestId: string };
        await send({ type: "approval", requestId: asked.requestId, decision });
        await nextEnd(ends().length + 1);
      }
      // A turn interrupted midway.
      await send({ type: "user_input", text: "slow" });
      await stream.until((f) => f.event === "event" && frameType(f) === "assistant_text", 60_000);
      await send({ type: "interrupt" });
      await nextEnd(4);
      expect(ran).toEqual(["echo a"]);

      const res = await api(url, "/metrics");
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const m = parsePrometheus(await res.text());
      const outcomes = ends().map(frameType);
      expect(outcomes).toEqual(["turn_completed", "turn_completed", "turn_completed", "turn_aborted"]);
      expect(m.get("taifeng_turns_total")?.type).toBe("counter");
      expect(sampleValue(m, "taifeng_turns_total", { taifeng_turn_outcome: "completed" })).toBe(3);
      expect(sampleValue(m, "taifeng_turns_total", { taifeng_turn_outcome: "aborted" })).toBe(1);
      const tools = events(stream.frames, "tool_call_completed") as { status: string }[];
      expect(tools.map((t) => t.status)).toEqual(["ok", "denied"]);
      for (const status of ["ok", "denied"])
        expect(
          sampleValue(m, "taifeng_tool_calls_total", {
            gen_ai_tool_name: "shell",
            taifeng_tool_status: status,
          }),
        ).toBe(1);

      // The label value is escaped as written by the model's name.
      const calls = events(stream.frames, "model_call_completed") as {
        usage: { inputTokens: number; outputTokens: number };
        costUsd?: number;
      }[];
      const model = { gen_ai_request_model: 'lab"el\\model' };
      expect(m.get("gen_ai_client_operation_duration")?.type).toBe("histogram");
      expect(
        sampleValue(m, "gen_ai_client_operation_duration", model, "gen_ai_client_operation_duration_count"),
      ).toBe(calls.length);
      const input = { ...model, gen_ai_token_type: "input" };
      expect(sampleValue(m, "gen_ai_client_token_usage", input, "gen_ai_client_token_usage_sum")).toBe(
        calls.reduce((n, c) => n + c.usage.inputTokens, 0),
      );
      expect(sampleValue(m, "gen_ai_client_token_usage", input, "gen_ai_client_token_usage_count")).toBe(
        calls.filter((c) => c.usage.inputTokens > 0).length,
      );
      expect(sampleValue(m, "taifeng_cost_usd_total", model)).toBeCloseTo(
        calls.reduce((n, c) => n + (c.costUsd ?? 0), 0),
        9,
      );
      // Every call that finished was priced (the interrupted one ended before its usage).
      expect(calls.filter((c) => c.costUsd === USD_PER_CALL).length).toBeGreaterThanOrEqual(5);
      // The first turn read 40 of its 100 input tokens from the cache.
      expect(m.get("taifeng_usage_cached_share")?.type).toBe("histogram");
      expect(
        sampleValue(m, "taifeng_usage_cached_share", { le: "0.25" }, "taifeng_usage_cached_share_bucket"),
      ).toBe(
        sampleValue(m, "taifeng_usage_cached_share", { le: "0.1" }, "taifeng_usage_cached_share_bucket"),
      );
      expect(
        (sampleValue(m, "taifeng_usage_cached_share", { le: "0.5" }, "taifeng_usage_cached_share_bucket") ??
          0) -
          (sampleValue(
            m,
            "taifeng_usage_cached_share",
            { le: "0.25" },
            "taifeng_usage_cached_share_bucket",
          ) ?? 0),
      ).toBe(1);
      // Server gauges.
      expect(sampleValue(m, "taifeng_server_engines")).toBe(server.hub.pool.size);
      expect(sampleValue(m, "taifeng_server_sse_viewers")).toBe(1);
      expect(sampleValue(m, "taifeng_server_events_total")).toBe(server.hub.counters.events);
      stream.close();
    } finally {
      await server.close();
    }
  }, 120_000);

  it("without the OpenTelemetry pipeline serves the server's own counters, as valid exposition with escaped labels", async () => {
    const { server, url } = await startServer(storage.dir, [], { model: pricedModel(), metrics: false });
    try {
      const created = (await (
        await api(url, "/v1/threads", { method: "POST", body: JSON.stringify({ input: "hello" }) })
      ).json()) as { threadId: string };
      const stream = openSse(`${url}/v1/threads/${created.threadId}/events`, auth);
      await stream.until((f) => f.event === "event" && frameType(f) === "turn_completed", 60_000);
      stream.close();
      const m = parsePrometheus(await (await api(url, "/metrics")).text());
      expect(sampleValue(m, "taifeng_turns_total", { outcome: "completed" })).toBe(1);
      expect(sampleValue(m, "taifeng_cost_usd_total")).toBe(USD_PER_CALL);
      expect(
        sampleValue(m, "taifeng_model_call_duration_ms", { model: 'sim:lab"el\\model', quantile: "0.95" }),
      ).toBeGreaterThanOrEqual(0);
    } finally {
      await server.close();
    }
  }, 60_000);
});
