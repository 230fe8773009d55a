import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OTLPMetricExporter as JsonMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as ProtoMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { OTLPTraceExporter as JsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { createRedactor } from "../../src/redact/redactor.ts";
import { consoleSink } from "../../src/telemetry/console-sink.ts";
import { jsonlSink } from "../../src/telemetry/jsonl-sink.ts";
import { createOtel } from "../../src/telemetry/otel.ts";
import { createSinks } from "../../src/telemetry/sinks.ts";
import { defineTool } from "../../src/tool/define.ts";
import { runCli } from "../helpers/cli-inprocess.ts";
import { metricNames, type OtlpReceiver, startReceiver } from "./otlp-receiver.ts";

// Two kinds of secret: a value from the environment, and a token in a well-known format.
const ENV_SECRET = "s3cr3t-db-password-7f9a2c";
const GITHUB_TOKEN = `ghp_${"A1b2C3d4E5".repeat(4)}`;

let receiver: OtlpReceiver;
let dir: string;
beforeEach(async () => {
  receiver = await startReceiver();
  dir = await mkdtemp(join(tmpdir(), "taifeng-otlp-"));
});
afterEach(async () => {
  await receiver.close();
  await rm(dir, { recursive: true, force: true });
});

/** A tool whose output leaks both secrets, as a careless `env` or `cat .env` would. */
const leaky = defineTool({
  name: "read_env",
  description: "Reads the environment.",
  schema: z.object({ file: z.string() }),
  readOnly: true,
  execute: ({ file }) => `${file}: DATABASE_PASSWORD=${ENV_SECRET}\nGH_TOKEN=${GITHUB_TOKEN}`,
});

describe.each(["http/protobuf", "http/json"] as const)("OTLP export over %s", (protocol) => {
  it("delivers the turn's spans and metrics to a collector, and no secret reaches any exporter or sink", async () => {
    const json = protocol === "http/json";
    const resource = resourceFromAttributes({ "service.name": "otlp-test" });
    const traceUrl = `${receiver.url}/v1/traces`;
    const metricUrl = `${receiver.url}/v1/metrics`;
    const tracerProvider = new TracerProvider({
      resource,
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: json
            ? new JsonTraceExporter({ url: traceUrl })
            : new ProtoTraceExporter({ url: traceUrl }),
        }),
      ],
    });
    const meterProvider = new MeterProvider({
      resource,
      readers: [
        new PeriodicExportingMetricReader({
          exporter: json
            ? new JsonMetricExporter({ url: metricUrl })
            : new ProtoMetricExporter({ url: metricUrl }),
          exportIntervalMillis: 3_600_000,
        }),
      ],
    });
    const redactor = createRedactor({ env: { DATABASE_PASSWORD: ENV_SECRET } });
    const otel = createOtel({
      tracerProvider,
      meterProvider,
      redactor,
      captureContent: true,
      env: { OTEL_SEMCONV_STABILITY_OPT_IN: "gen_ai_latest_experimental" },
    });
    let consoleText = "";
    const sinks = createSinks(
      [
        consoleSink({ out: { write: (t: string) => (consoleText += t) }, width: 10_000 }),
        jsonlSink({ dir, per: "thread" }),
      ],
      { redactor },
    );
    const engine = await AgentEngine.open(
      otel.instrument({
        model: new SimClient({
          name: "leak",
          script: [
            { toolCalls: [{ name: "read_env", arguments: { file: ".env" } }] },
            { text: [`The token is ${GITHUB_TOKEN} and the password ${ENV_SECRET}.`] },
          ],
        }),
        tools: [leaky],
        cwd: dir,
        listeners: [sinks.listener],
      }),
    );
    await engine.submitAndWait(`Check my password ${ENV_SECRET}`);
    await engine.close();
    await sinks.close();
    await tracerProvider.shutdown();
    await meterProvider.shutdown();

    const spans = receiver.spans();
    const names = spans.map((s) => s.name).sort();
    expect(names).toEqual(["chat leak", "chat leak", "execute_tool read_env", "invoke_agent taifeng"]);
    const root = spans.find((s) => s.name === "invoke_agent taifeng");
    for (const s of spans) {
      expect(s.traceId).toBe(root?.traceId);
      expect(s.resource["service.name"]).toBe("otlp-test");
      if (s !== root) expect(s.parentSpanId).toBe(root?.spanId);
    }
    expect(spans.find((s) => s.name === "chat leak")?.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.conversation.id": engine.threadId,
      "gen_ai.usage.input_tokens": expect.any(Number),
      "gen_ai.response.finish_reasons": ["tool_calls"],
    });
    const metricRequests = receiver.requests.filter((r) => r.path === "/v1/metrics");
    expect(metricRequests.length).toBeGreaterThan(0);
    expect(metricRequests.flatMap(metricNames)).toEqual(
      expect.arrayContaining([
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
        "taifeng.turns",
      ]),
    );
    for (const r of receiver.requests) expect(r.contentType).toContain(json ? "json" : "protobuf");

    // Redaction scan: every byte that left through an exporter, every JSONL line, the console.
    const files = await readdir(dir);
    const lines = (await Promise.all(files.map((f) => readFile(join(dir, f), "utf8")))).join("").split("\n");
    expect(lines.filter((l) => l !== "").length).toBeGreaterThan(5);
    const outputs = [...receiver.requests.map((r) => r.body.toString("latin1")), ...lines, consoleText];
    for (const text of outputs) {
      expect(text).not.toContain(ENV_SECRET);
      expect(text).not.toContain(GITHUB_TOKEN);
    }
    // ...and the content was there to leak: it arrived masked.
    const exported = JSON.stringify(spans.map((s) => s.attributes));
    expect(exported).toContain("[REDACTED:DATABASE_PASSWORD]");
    expect(exported).toContain("[REDACTED:github_token]");
    expect(lines.join("\n")).toContain("[REDACTED:DATABASE_PASSWORD]");
  });
});

describe("taifeng run --otel", () => {
  it("exports through OTLP as the OTEL_* variables say", async () => {
    const run = await runCli(["run", "--otel", "What can you do?"], {
      cwd: dir,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_SERVICE_NAME: "cli-test",
        OTEL_METRICS_EXPORTER: "none",
        HOME: dir,
      },
    });
    expect(run.code).toBe(0);
    const spans = receiver.spans();
    expect(spans.map((s) => s.name)).toContain("invoke_agent taifeng");
    expect(spans.some((s) => s.name.startsWith("chat "))).toBe(true);
    expect(spans[0]?.resource["service.name"]).toBe("cli-test");
    expect(receiver.requests.every((r) => r.path === "/v1/traces")).toBe(true);
  });

  it("rejects an unknown protocol with a usage error", async () => {
    const run = await runCli(["run", "--otel", "hi"], {
      cwd: dir,
      env: { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", HOME: dir },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json");
  });
});
