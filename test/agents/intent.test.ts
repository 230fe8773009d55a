import { describe, expect, it } from "vitest";
import { z } from "zod";
import { intentRouting } from "../../src/agents/index.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../../src/llm/types.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { defineTool, type Tool } from "../../src/tool/define.ts";
import { agentShape } from "../helpers/agents.ts";

const tool = (name: string): Tool =>
  defineTool({ name, description: name, schema: z.object({}), readOnly: true, execute: () => name }) as Tool;
const intents = [
  { name: "chat", description: "small talk", tools: [] },
  { name: "billing", description: "invoices and refunds", tools: ["refund", "invoice"] },
  { name: "deploy", description: "releases", tools: ["deploy"], confirm: true },
];

describe("intent classification", () => {
  it("each turn gets its intent's tool subset; a costly intent runs only when confirmed", async () => {
    const requests: ModelRequest[] = [];
    const model = new SimClient({
      script: Array.from({ length: 5 }, () => (r: ModelRequest) => {
        requests.push(r);
        return { text: "ok" };
      }),
    });
    const seen: string[] = [];
    const asked: string[] = [];
    const routing = intentRouting({
      intents,
      classify: (text) =>
        text.includes("refund") ? "billing" : text.includes("ship") ? "deploy" : "unknown",
      confirm: (intent, text) => {
        asked.push(`${intent.name}: ${text}`);
        return false;
      },
      onIntent: (intent) => seen.push(intent.name),
    });
    const engine = await AgentEngine.open({
      model,
      tools: ["refund", "invoice", "deploy"].map(tool),
      prepareTurn: routing.prepareTurn,
    });
    await engine.submitAndWait("I want a refund");
    await engine.submitAndWait("hello there");
    const declined = await engine.submitAndWait("ship it");
    expect(seen).toEqual(["billing", "chat", "deploy"]);
    expect(requests.map((r) => r.tools.map((t) => t.name))).toEqual([["invoice", "refund"], []]);
    expect(requests[0]?.system).toContain("The request was classified as: billing (invoices and refunds).");
    expect(asked).toEqual(["deploy: ship it"]);
    expect(agentShape(declined)).toEqual(["turn_started", "turn_failed prepare_failed"]);
    expect(declined.at(-1)?.msg).toMatchObject({
      error: { message: expect.stringContaining('the "deploy" request was not confirmed') },
    });
    await engine.close();
  });

  it("a model can be the classifier", async () => {
    const classifier = new SimClient({ script: [{ text: "billing\n" }] });
    const routing = intentRouting({ intents, classify: { model: classifier } });
    const requests: ModelRequest[] = [];
    const model = new SimClient({
      script: [
        (r: ModelRequest) => {
          requests.push(r);
          return { text: "ok" };
        },
      ],
    });
    const engine = await AgentEngine.open({
      model,
      tools: ["refund", "invoice", "deploy"].map(tool),
      prepareTurn: routing.prepareTurn,
    });
    await engine.submitAndWait("money back please");
    expect(requests[0]?.tools.map((t) => t.name)).toEqual(["invoice", "refund"]);
    await engine.close();
  });
});
