import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.ts";

function runExample(name: string) {
  const res = spawnSync(process.execPath, [join(ROOT, "examples", name)], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 20_000,
  });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

describe("npm run example", () => {
  const launcher = (args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, "bin", "example.mjs"), ...args], { cwd: ROOT, encoding: "utf8" });

  it("runs an example by name", () => {
    const res = launcher(["quickstart"]);
    expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: "" });
    expect(res.stdout).toContain("run() -> It is 18 °C and clear in Paris.");
  });

  it("lists the examples for an unknown or missing name", () => {
    for (const args of [[], ["nope"]]) {
      const res = launcher(args);
      expect(res.status).toBe(2);
      expect(res.stderr).toMatch(/^usage: npm run example <name>, one of: .*\bquickstart\b.*\bskills\b/);
    }
  });
});

describe("examples (no API key)", () => {
  it("agents-tree survives a stop while a child waits for approval, and finishes after reopening", () => {
    const res = runExample("agents-tree.ts");
    expect(res.err).toBe("");
    expect(res.code).toBe(0);
    const [before, after] = res.out.split("-- process stopped; reopening from the transcripts --\n");
    // Before the stop: both spawned, the researcher done, the deployer asking (in either order).
    expect(before?.split("\n").filter(Boolean).sort()).toEqual([
      '[root/deployer#1] asks to run deploy {"env":"prod"}',
      "[root] root/researcher#1 completed",
      "[root] spawned root/deployer#1",
      "[root] spawned root/researcher#1",
    ]);
    expect(after).toMatch(/^\[root\/deployer#1\] asks to run deploy/);
    expect(res.out).toContain("root [idle]\n  root/researcher#1 [completed]\n  root/deployer#1 [completed]");
  });

  it("quickstart runs a tool call through the pool and through run()", () => {
    const res = runExample("quickstart.ts");
    expect(res.err).toBe("");
    expect(res.code).toBe(0);
    expect(res.out).toContain('[tool] get_weather {"city":"Paris"}');
    expect(res.out).toContain("It is 18 °C and clear in Paris.");
    expect(res.out).toContain("[done] 2 model calls");
    expect(res.out).toContain("run() -> It is 18 °C and clear in Paris.");
  });

  it("skills loads SKILL.md folders, runs a composite plan and hot-reloads the catalog", () => {
    const res = runExample("skills.ts");
    expect(res.err).toBe("");
    expect(res.code).toBe(0);
    expect(res.out).toContain("skill brief (composite): ");
    expect(res.out).toContain('[tool] read_skill {"name":"brief"}');
    expect(res.out).toContain("  [skill] summarize started (in brief)");
    expect(res.out).toContain("  [plan] brief steps[1]: ok");
    expect(res.out).toContain(
      "Here is your brief:\nTaifeng Runs Agents, Skills Included\nA one-sentence summary of 43 words about Taifeng.\n(43 words, 4 sentence(s), long)",
    );
    expect(res.out).toContain(
      "[assistant] The catalog now says: Summarizes a text in one sentence (edited).",
    );
  });

  it("otel-console prints a turn's span tree and a budget warning with no collector", () => {
    const res = runExample("otel-console.ts");
    expect(res.err).toBe("");
    expect(res.code).toBe(0);
    expect(res.out.split("\n").filter((l) => l.startsWith("[span]"))).toEqual([
      '[span] invoke_agent taifeng taifeng.turn.outcome="completed" gen_ai.usage.input_tokens=280 gen_ai.usage.output_tokens=21',
      "[span]   chat demo gen_ai.usage.input_tokens=120 gen_ai.usage.output_tokens=12",
      '[span]   execute_tool get_weather gen_ai.tool.name="get_weather"',
      "[span]   chat demo gen_ai.usage.input_tokens=160 gen_ai.usage.output_tokens=9",
    ]);
    expect(res.out).toContain("[budget] turn tokens past 70%: 301 of 400");
  });

  it("parallel-tools overlaps the fetches and serializes the saves", () => {
    const res = runExample("parallel-tools.ts");
    expect(res.code).toBe(0);
    const lines = res.out.split("\n").map((l) => l.replace(/^\s*\d+ ms\s+/, ""));
    const idx = (s: string) => lines.indexOf(s);
    // every fetch starts before any fetch ends: they ran together
    const lastStart = Math.max(
      idx("start fetch a.example"),
      idx("start fetch b.example"),
      idx("start fetch c.example"),
    );
    const firstEnd = Math.min(
      idx("end   fetch a.example"),
      idx("end   fetch b.example"),
      idx("end   fetch c.example"),
    );
    expect(lastStart).toBeLessThan(firstEnd);
    // the saves do not overlap each other or the fetches
    expect(idx('start save "first"')).toBeGreaterThan(idx("end   fetch c.example"));
    expect(idx('start save "second"')).toBeGreaterThan(idx('end   save "first"'));
    expect(res.out).toContain(
      'outputs in call order: ["<html>a.example</html>","<html>b.example</html>","<html>c.example</html>","saved","saved"]',
    );
  });

  it("mcp-client runs an MCP reference server's tools inside an engine", () => {
    const res = runExample("mcp-client.ts");
    expect(res.err).toBe("");
    expect(res.code).toBe(0);
    expect(res.out).toContain("[mcp] everything: ready");
    expect(res.out).toContain("  -> The sum of 19 and 23 is 42.");
    expect(res.out).toContain(
      "[assistant] The server said: The sum of 19 and 23 is 42. / Echo: hello from Taifeng",
    );
  });

  it("mcp-server serves skills and read_file over Streamable HTTP to an MCP client", () => {
    const res = runExample("mcp-server.ts");
    expect(res.err).toBe("");
    expect(res.code).toBe(0);
    expect(res.out).toContain("[client] ready over http 2026-07-28");
    expect(res.out).toContain("mcp__taifeng__headline");
    expect(res.out).toContain("[headline] Taifeng Serves Skills Over MCP");
    expect(res.out).toContain('2\t  "name": "taifeng",');
  });
});
