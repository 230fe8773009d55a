// skills: what skills cost per turn and per activation.
// - load: opening a registry over N generated skill folders (each with 2 bundled files);
// - refresh: one between-turn disk check of an unchanged tree (fingerprint of directory and
//   SKILL.md times; when not watching, at most one per checkIntervalMs, shared by all engines);
// - catalog: rendering the catalog of N skills within the default 2,000-token budget;
// - call_skill: a turn whose model calls one atomic skill (child engine, own thread, one model
//   call) against the same turn calling a plain tool; the difference is the activation cost.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { renderCatalog, SkillRegistry, SkillRuntime } from "../src/skill/index.ts";
import { defineTool } from "../src/tool/define.ts";
import { percentile, round, writeResult } from "./lib.ts";

const SKILLS = Number(process.env.SKILLS ?? 200);
const RUNS = Number(process.env.RUNS ?? 2_000);
const ROUNDS = 5;

const root = await mkdtemp(join(tmpdir(), "taifeng-bench-skills-"));
try {
  for (let i = 0; i < SKILLS; i++) {
    const name = `skill-${String(i).padStart(4, "0")}`;
    const dir = join(root, name);
    await mkdir(join(dir, "reference"), { recursive: true });
    await writeFile(
      join(dir, "SKILL.md"),
      `---\nname: ${name}\ndescription: Does task number ${i} when the user asks for it; covers the usual edge cases of task ${i}.\nlicense: MIT\n---\n\n# ${name}\n\nSee [the guide](reference/guide.md).\n`,
    );
    await writeFile(join(dir, "reference", "guide.md"), `# Guide ${i}\n`);
    await writeFile(join(dir, "LICENSE.txt"), "MIT\n");
  }

  const timed = async (n: number, fn: () => Promise<unknown> | unknown): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await fn();
      out.push(performance.now() - t0);
    }
    return out;
  };

  const loads = await timed(10, () => SkillRegistry.open({ dirs: [root], defaults: false }));
  const registry = await SkillRegistry.open({ dirs: [root], defaults: false, checkIntervalMs: 0 });
  const refreshes = await timed(50, () => registry.refresh());
  const catalogs = await timed(50, () => renderCatalog(registry.current.usable));
  const catalog = renderCatalog(registry.current.usable);

  // call_skill vs a plain tool, interleaved in rounds; medians over rounds.
  // Disk checks are rate-limited (checkIntervalMs, default 1 s) or replaced by watching in a
  // real host; here they are switched off so the figure is the activation itself.
  const runtime = await SkillRuntime.open({ dirs: [root], defaults: false, checkIntervalMs: 3_600_000 });
  const tool = defineTool({
    name: "work",
    description: "Works.",
    schema: z.object({}),
    execute: () => "worked",
  });
  const isChild = (req: ModelRequest) => req.system.startsWith("You are running the skill");
  const skillModel = new SimClient({
    name: "bench",
    script: Array.from(
      { length: 2 },
      () =>
        (req: ModelRequest, { index }: { index: number }) =>
          isChild(req)
            ? { text: ["child done"] }
            : index === 0
              ? { toolCalls: [{ name: "call_skill", arguments: { name: "skill-0001", input: "go" } }] }
              : { text: ["root done"] },
    ),
  });
  const toolModel = new SimClient({
    name: "bench",
    script: [{ toolCalls: [{ name: "work" }] }, { text: ["root done"] }],
  });
  const runSkill = async () => {
    const engine = await AgentEngine.open({ model: skillModel, ...runtime.engineOptions() });
    await engine.submitAndWait("go");
    await engine.close();
  };
  const runTool = async () => {
    const engine = await AgentEngine.open({ model: toolModel, tools: [tool], ...runtime.engineOptions() });
    await engine.submitAndWait("go");
    await engine.close();
  };
  await timed(200, runSkill);
  await timed(200, runTool);
  const skillRounds: number[] = [];
  const toolRounds: number[] = [];
  const per = Math.ceil(RUNS / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    skillRounds.push(percentile(await timed(per, runSkill), 50));
    toolRounds.push(percentile(await timed(per, runTool), 50));
  }
  const skillMs = percentile(skillRounds, 50);
  const toolMs = percentile(toolRounds, 50);

  writeResult(
    "skills",
    {
      skills: SKILLS,
      load_ms_p50: round(percentile(loads, 50)),
      load_us_per_skill: round((percentile(loads, 50) * 1000) / SKILLS, 1),
      refresh_unchanged_ms_p50: round(percentile(refreshes, 50)),
      catalog_render_ms_p50: round(percentile(catalogs, 50), 3),
      catalog_tokens: catalog.tokens,
      catalog_listed: catalog.listed,
      catalog_names_only: catalog.namesOnly,
      catalog_omitted: catalog.omitted,
      turn_with_call_skill_us: round(skillMs * 1000, 1),
      turn_with_plain_tool_us: round(toolMs * 1000, 1),
      call_skill_overhead_us: round((skillMs - toolMs) * 1000, 1),
    },
    {
      workload: `${SKILLS} generated skills (SKILL.md + 2 bundled files each) in a temp dir. load: 10 registry opens; refresh: 50 unchanged disk checks (checkIntervalMs 0); catalog: 50 renders (default 2,000-token budget, chars/4 estimate). call_skill: ${ROUNDS} interleaved rounds of ${per} turns each way after 200 warm-up turns; a turn opens an engine with the skill runtime, runs 2 root model calls around one call_skill (child engine + 1 child model call) or one plain tool call, and closes; figures are medians of per-round medians.`,
    },
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
