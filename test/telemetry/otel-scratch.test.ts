import { test } from "vitest";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { createOtel } from "../../src/telemetry/otel.ts";
import { echoTool } from "../helpers/engine.ts";
import { literalRedactor, memoryOtel, spanTree } from "./otel-helpers.ts";

test("scratch", async () => {
  const o = memoryOtel();
  const otel = createOtel({
    redactor: literalRedactor([]),
    tracerProvider: o.tracerProvider,
    meterProvider: o.meterProvider,
  });
  const sim = new SimClient({
    script: [
      { toolCalls: [{ name: "echo", arguments: { v: "x" } }], usage: { inputTokens: 50, outputTokens: 10 } },
      { text: ["done"] },
    ],
  });
  const engine = await AgentEngine.open(otel.instrument({ model: sim, tools: [echoTool()], cwd: "/tmp" }));
  await engine.submitAndWait("hi");
  await engine.close();
  console.log(spanTree(await o.spans()));
  for (const s of await o.spans()) console.log(s.name, JSON.stringify(s.attributes));
  console.log(JSON.stringify((await o.metrics()).map((m) => [m.descriptor.name, m.dataPoints.length])));
});
