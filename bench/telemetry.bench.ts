// telemetry: what OpenTelemetry and the JSONL sink cost the kernel.
// kernel_otel_on_vs_off: the kernel-overhead run (2 model steps + 1 tool call) with the
// OpenTelemetry layer recording spans through a BatchSpanProcessor into an in-memory exporter
// and metrics into an in-memory reader, over the same run with no telemetry.
// kernel_otel_installed_but_disabled_vs_off: the layer attached, but the host registered no
// SDK (the API's no-op providers), over no telemetry.
// jsonl_sink_events_per_s: events through the sink dispatcher into a rotating JSONL file.
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { BatchSpanProcessor, InMemorySpanExporter, TracerProvider } from "@opentelemetry/sdk-trace";
import { AgentEngine, type EngineOptions } from "../src/loop/engine.ts";
import type { Event } from "../src/protocol/index.ts";
import { createRedactor } from "../src/redact/redactor.ts";
import type { Redactor } from "../src/redact/types.ts";
import { jsonlSink } from "../src/telemetry/jsonl-sink.ts";
import { createOtel } from "../src/telemetry/otel.ts";
import { createSinks } from "../src/telemetry/sinks.ts";
import { kernelModel, lookupTool, percentile, round, writeResult } from "./lib.ts";

const RUNS = Number(process.env.RUNS ?? 10_000);
const loadAtStart = loadavg()[0] ?? 0;
const WARMUP = Number(process.env.WARMUP ?? 1_000);
const ROUNDS = 10;

// A redactor with nothing to mask: the cost of the security layer is measured elsewhere.
const passThrough: Redactor = { redact: (t) => t, redactValue: (v) => v };

async function run(options: EngineOptions): Promise<number> {
  const engine = await AgentEngine.open(options);
  const id = engine.submit("What is the answer?");
  let count = 0;
  for await (const ev of engine.subscribe(id)) {
    count++;
    if (ev.msg.type === "turn_failed") throw new Error(JSON.stringify(ev.msg.error));
  }
  await engine.close();
  return count;
}

// CPU time of the process (all its threads: GC, the span processor's timer) per run, in µs.
// On a shared machine other processes stretch wall time by whatever they take; CPU time is the
// work this process did. Wall time is recorded beside it.
const wall: Record<string, number[]> = { off: [], on: [], disabled: [] };
async function measure(fn: () => Promise<unknown>, runs: number, side?: string): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  const t1 = performance.now();
  const c = process.cpuUsage(c0);
  if (side) wall[side]?.push(((t1 - t0) * 1000) / runs);
  return (c.user + c.system) / runs;
}

const spanExporter = new InMemorySpanExporter();
const tracerProvider = new TracerProvider({
  spanProcessors: [
    new BatchSpanProcessor({
      exporter: spanExporter,
      maxQueueSize: 65_536,
      maxExportBatchSize: 4096,
      scheduledDelayMillis: 200,
    }),
  ],
});
const metricReader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.DELTA),
  exportIntervalMillis: 1_000,
});
const meterProvider = new MeterProvider({ readers: [metricReader] });
const on = createOtel({ redactor: passThrough, tracerProvider, meterProvider });
const disabled = createOtel({ redactor: passThrough });

const offModel = kernelModel();
const onModel = kernelModel();
const disabledModel = kernelModel();
// A host instruments its options once (per pool or per engine factory), not per turn.
const offOptions: EngineOptions = { model: offModel, tools: [lookupTool] };
const onOptions = on.instrument({ model: onModel, tools: [lookupTool] });
const disabledOptions = disabled.instrument({ model: disabledModel, tools: [lookupTool] });
const off = () => run(offOptions);
// The floor: the same kernel run with telemetry off, plus the bare SDK work the layer asks of
// the SDK for it, made directly: the same 4 spans with the same attributes, nested the same
// way (the attributes a sampler may use at the start, the rest in one setAttributes at the
// end, as the layer does), the same 7 histogram records, and the counters as in-process sums
// behind observable counters. No implementation on this SDK can cost less.
const floorTracer = tracerProvider.getTracer("floor");
const floorMeter = meterProvider.getMeter("floor");
const floorHist = floorMeter.createHistogram("floor.histogram");
const floorSums = { turns: 0, tools: 0 };
floorMeter
  .createObservableCounter("floor.turns")
  .addCallback((r) => r.observe(floorSums.turns, chatAttrsOf()));
floorMeter
  .createObservableCounter("floor.tools")
  .addCallback((r) => r.observe(floorSums.tools, chatAttrsOf()));
const chatAttrs = {
  "gen_ai.operation.name": "chat",
  "gen_ai.provider.name": "taifeng.sim",
  "gen_ai.request.model": "bench",
};
function chatAttrsOf() {
  return chatAttrs;
}
const inputAttrs = { ...chatAttrs, "gen_ai.token.type": "input" };
const outputAttrs = { ...chatAttrs, "gen_ai.token.type": "output" };
const floorModel = kernelModel();
const floorOptions: EngineOptions = { model: floorModel, tools: [lookupTool] };
function bareSdk(): void {
  const turnAttrs = {
    ...chatAttrs,
    "gen_ai.operation.name": "invoke_agent",
    "gen_ai.agent.name": "taifeng",
  };
  const root = floorTracer.startSpan("invoke_agent taifeng", { attributes: turnAttrs }, ROOT_CONTEXT);
  const ctx = trace.setSpan(ROOT_CONTEXT, root);
  for (let step = 1; step <= 2; step++) {
    const chat = floorTracer.startSpan("chat bench", { kind: SpanKind.CLIENT, attributes: chatAttrs }, ctx);
    if (step === 1) {
      const tool = floorTracer.startSpan(
        "execute_tool lookup",
        { attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup" } },
        ctx,
      );
      tool.setAttributes({
        "gen_ai.tool.call.id": "c",
        "gen_ai.tool.type": "function",
        "gen_ai.conversation.id": "thr",
        "taifeng.tool.status": "ok",
      });
      tool.end();
      floorSums.tools++;
    }
    chat.setAttributes({
      "gen_ai.conversation.id": "thr",
      "gen_ai.request.stream": true,
      "taifeng.step": step,
      "gen_ai.response.id": "id",
      "gen_ai.response.model": "bench",
      "gen_ai.response.finish_reasons": ["stop"],
      "gen_ai.usage.input_tokens": 50,
      "gen_ai.usage.output_tokens": 10,
    });
    chat.end();
    floorHist.record(0.001, chatAttrs);
    floorHist.record(50, inputAttrs);
    floorHist.record(10, outputAttrs);
  }
  root.setAttributes({
    "gen_ai.conversation.id": "thr",
    "taifeng.turn.id": "turn",
    "taifeng.turn.outcome": "completed",
    "taifeng.turn.steps": 2,
    "gen_ai.usage.input_tokens": 100,
    "gen_ai.usage.output_tokens": 20,
  });
  root.end();
  floorSums.turns++;
  floorHist.record(0, chatAttrs);
}
const floor = async () => {
  await run(floorOptions);
  bareSdk();
};
const otelOn = () => run(onOptions);
const otelDisabled = () => run(disabledOptions);

const perRound = Math.ceil(RUNS / ROUNDS);
for (const fn of [off, otelOn, otelDisabled, floor]) await measure(fn, WARMUP);
const offs: number[] = [];
const floors: number[] = [];
const ons: number[] = [];
const disableds: number[] = [];
// Each side starts from a collected heap, so no side pays for another's garbage (the
// recording side retains its spans in the in-memory exporter until the round ends).
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
for (let r = 0; r < ROUNDS; r++) {
  gc();
  offs.push(await measure(off, perRound, "off"));
  gc();
  disableds.push(await measure(otelDisabled, perRound, "disabled"));
  gc();
  ons.push(await measure(otelOn, perRound, "on"));
  gc();
  floors.push(await measure(floor, perRound));
  await tracerProvider.forceFlush();
  spanExporter.reset();
}
const ratios = (side: number[]) => side.map((t, i) => t / (offs[i] as number));
const onRatio = percentile(ratios(ons), 50);
const disabledRatio = percentile(ratios(disableds), 50);
const floorRatio = percentile(ratios(floors), 50);
const wallRatio = (side: number[]) =>
  percentile(
    side.map((t, i) => t / (wall.off?.[i] as number)),
    50,
  );
const spansPerRun = await (async () => {
  spanExporter.reset();
  await otelOn();
  await tracerProvider.forceFlush();
  return spanExporter.getFinishedSpans().length;
})();
await tracerProvider.shutdown();
await meterProvider.shutdown();

// --- JSONL sink throughput -------------------------------------------------------------------
// The events of real kernel runs, replayed through the dispatcher (redaction included) into a
// rotating JSONL file, until every event is on disk.
const sample: Event[] = [];
{
  const engine = await AgentEngine.open({
    model: kernelModel(),
    tools: [lookupTool],
    listeners: [(e) => sample.push(e)],
  });
  for (let i = 0; i < 4; i++) await engine.submitAndWait("What is the answer?");
  await engine.close();
}
const SINK_EVENTS = Number(process.env.SINK_EVENTS ?? 200_000);
const dir = mkdtempSync(join(tmpdir(), "taifeng-bench-jsonl-"));
const sinkRates: number[] = [];
try {
  for (let r = 0; r < 3; r++) {
    const hub = createSinks([jsonlSink({ dir, per: "process", maxBytes: 32 * 2 ** 20, maxFiles: 2 })], {
      redactor: createRedactor({ env: false }),
      maxPending: SINK_EVENTS,
    });
    const ctx = { emit: () => {} };
    const t0 = performance.now();
    for (let i = 0; i < SINK_EVENTS; i++) {
      const ev = sample[i % sample.length] as Event;
      hub.listener({ ...ev, seq: i }, ctx);
      // Yield now and then, as turns do, so that the hub drains in batches.
      if (i % 1_000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
    await hub.flush(60_000);
    sinkRates.push(SINK_EVENTS / ((performance.now() - t0) / 1000));
    const dropped = hub.stats()[0]?.dropped ?? 0;
    if (dropped > 0) throw new Error(`the JSONL sink dropped ${dropped} events`);
    await hub.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

writeResult(
  "telemetry",
  {
    kernel_otel_on_vs_off: round(onRatio, 3),
    kernel_otel_installed_but_disabled_vs_off: round(disabledRatio, 3),
    kernel_plus_bare_sdk_vs_off: round(floorRatio, 3),
    jsonl_sink_events_per_s: Math.round(percentile(sinkRates, 50)),
    kernel_off_cpu_us_per_run: round(percentile(offs, 50), 2),
    kernel_otel_on_cpu_us_per_run: round(percentile(ons, 50), 2),
    kernel_otel_disabled_cpu_us_per_run: round(percentile(disableds, 50), 2),
    kernel_plus_bare_sdk_cpu_us_per_run: round(percentile(floors, 50), 2),
    wall_otel_on_vs_off: round(wallRatio(wall.on ?? []), 3),
    wall_otel_installed_but_disabled_vs_off: round(wallRatio(wall.disabled ?? []), 3),
    spans_per_run: spansPerRun,
  },
  {
    workload: `${ROUNDS} interleaved rounds (a full GC before each side) of ${perRound} runs each of: no telemetry, the OpenTelemetry layer recording (SDK TracerProvider with a BatchSpanProcessor into an InMemorySpanExporter, reset every round; MeterProvider with a periodic reader into an InMemoryMetricExporter), the layer attached with no SDK registered (the API's no-op providers), and the floor (telemetry off plus the same 4 spans, 7 histogram records and 2 counter sums behind observable counters, made directly on the same SDK providers: kernel_plus_bare_sdk_vs_off, the least any layer on this SDK can cost); after ${WARMUP} warm-up runs of each. A run is the kernel-overhead run (open an engine, one user_input, 2 model steps + 1 tool call, consume every event, close). Ratios are medians of per-round ratios. The JSONL figure replays ${SINK_EVENTS} events of real kernel runs through the sink dispatcher (redaction by createRedactor) into a rotating file until flushed; median of 3.`,
    measure:
      "the two kernel ratios are medians of per-round ratios of process CPU time (user + system, all threads) per run; wall_* are the same ratios in wall time, which the shared VM's other processes stretch",
    rounds: {
      off_cpu_us: offs.map((v) => round(v, 2)),
      otel_on_cpu_us: ons.map((v) => round(v, 2)),
      otel_disabled_cpu_us: disableds.map((v) => round(v, 2)),
      bare_sdk_floor_cpu_us: floors.map((v) => round(v, 2)),
      off_wall_us: (wall.off ?? []).map((v) => round(v, 2)),
      otel_on_wall_us: (wall.on ?? []).map((v) => round(v, 2)),
      otel_disabled_wall_us: (wall.disabled ?? []).map((v) => round(v, 2)),
      jsonl_events_per_s: sinkRates.map((v) => Math.round(v)),
    },
    targets: { kernel_otel_on_vs_off: "<= 1.3", kernel_otel_installed_but_disabled_vs_off: "<= 1.03" },
    load_average: { start_1min: round(loadAtStart, 2), end_1min: round(loadavg()[0] ?? 0, 2) },
  },
);
