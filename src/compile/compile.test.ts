import { describe, expect, it } from "vitest";
import { SimClient } from "../llm/sim/sim-client.ts";
import type { ModelRequest } from "../llm/types.ts";
import { AgentEngine } from "../loop/engine.ts";
import {
  cachePricedCompiler,
  claudeCompiler,
  compilerOf,
  glmCompiler,
  type PromptCompiler,
  reasoningCompiler,
} from "./compilers.ts";
import { prefixIdenticalAcrossTurns, scriptedTurns } from "./prefix-check.ts";
import { compileByModel, withPromptCompiler } from "./wrap.ts";

const [first, second] = scriptedTurns(2) as [ModelRequest, ModelRequest];

describe("compilers", () => {
  it("claude: XML sections from Markdown headings, injected system messages as reminders", () => {
    const out = claudeCompiler().compile(second);
    expect(out.system).toBe(
      [
        "<instructions>\nYou are a careful coding agent.\n\nIMPORTANT: never push to main.\n</instructions>",
        "<style>\nSmall functions. Tests beside the code.\n</style>",
        "<tools>\nPrefer read-only tools first.\n</tools>",
      ].join("\n\n"),
    );
    expect(
      out.items.find(
        (i) => i.type === "message" && i.content[0]?.type === "text" && i.content[0].text.includes("todo"),
      ),
    ).toEqual({
      type: "message",
      role: "user",
      content: [{ type: "text", text: "<system-reminder>\ntodo: 2 items left\n</system-reminder>" }],
    });
    // A prompt that is already XML is left alone.
    expect(claudeCompiler().compile({ ...first, system: "<role>x</role>" }).system).toBe("<role>x</role>");
  });

  it("glm: the key instruction moves to the end", () => {
    const out = glmCompiler().compile(first);
    expect(out.system.endsWith("IMPORTANT: never push to main.")).toBe(true);
    expect(out.system.startsWith("You are a careful coding agent.\n\n# Style")).toBe(true);
    const plain = { ...first, system: "plain" };
    expect(glmCompiler().compile(plain)).toBe(plain);
  });

  it("cache_priced: tools sorted with canonical schemas, whitespace normalized", () => {
    const out = cachePricedCompiler().compile({ ...first, system: "a  \r\nb\t\n" });
    expect(out.tools.map((t) => t.name)).toEqual(["read_file", "write_file"]);
    expect(JSON.stringify(out.tools[1]?.parameters)).toBe(
      '{"properties":{"content":{"type":"string"},"path":{"type":"string"}},"required":["path"],"type":"object"}',
    );
    expect(out.system).toBe("a\nb\n");
  });

  it("reasoning: no temperature, an output allowance that leaves room to think", () => {
    const out = reasoningCompiler().compile(first);
    expect(out.temperature).toBeUndefined();
    expect(out.maxOutputTokens).toBe(4096);
    expect(first.temperature).toBe(0.2); // the input is not changed
  });
});

describe("the stable prefix with every compiler", () => {
  const cases: [PromptCompiler, "anthropic" | "chat"][] = [
    [compilerOf("claude"), "anthropic"],
    [compilerOf("glm"), "chat"],
    [compilerOf("cache_priced"), "chat"],
    [compilerOf("reasoning"), "chat"],
  ];
  for (const [compiler, provider] of cases) {
    it(`${compiler.family}: each turn's serialized ${provider} request starts with the previous one's`, () => {
      expect(prefixIdenticalAcrossTurns(compiler, provider)).toBe(true);
    });
  }

  it("the check catches a compiler that breaks the prefix", () => {
    let turn = 0;
    const leaky: PromptCompiler = {
      family: "glm",
      compile: (r) => ({ ...r, system: `${r.system}\nturn ${++turn}` }),
    };
    expect(prefixIdenticalAcrossTurns(leaky, "chat")).toBe(false);
  });
});

describe("opt-in per model", () => {
  it("compiles only the models the configuration names, in an engine", async () => {
    const seen: string[] = [];
    const sim = (name: string) =>
      new SimClient({
        name,
        script: [
          (r) => {
            seen.push(`${name}: ${r.system}`);
            return { text: "ok" };
          },
        ],
      });
    const config = { "sim:claude-*": "claude", "sim:other": ["glm"] } as const;
    for (const model of [compileByModel(sim("claude-x"), config), compileByModel(sim("plain"), config)]) {
      const engine = await AgentEngine.open({ model, system: "# Role\nHelp.", context: false });
      await engine.submitAndWait("hi");
      await engine.close();
    }
    expect(seen).toEqual(["claude-x: <role>\nHelp.\n</role>", "plain: # Role\nHelp."]);
    expect(() => compileByModel(sim("a"), { "*": "gpt" as never })).toThrow(
      /unknown family "gpt" \(known: claude, glm, cache_priced, reasoning\)/,
    );
    expect(withPromptCompiler(sim("b"), []).id).toBe("sim:b");
  });
});
