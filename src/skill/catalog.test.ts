import { describe, expect, it } from "vitest";
import { renderCatalog } from "./catalog.ts";
import type { Skill } from "./types.ts";

function skill(name: string, description: string, whenToUse?: string): Skill {
  return {
    name,
    dir: `/skills/${name}`,
    file: `/skills/${name}/SKILL.md`,
    source: "host",
    manifest: { name, description, metadata: {}, disableModelInvocation: false, extra: {}, whenToUse },
    body: "",
    files: [],
    problems: [],
    ineligible: [],
  };
}

const HEADER =
  "# Skills\nSkills are packaged instructions for specific tasks. When a request matches a skill's description, call read_skill with its name to load the instructions (its bundled files are read on demand), or call_skill to run it as a self-contained sub-task and get its result.\n";

describe("skill catalog", () => {
  it("lists every skill in name order with description and location", () => {
    const c = renderCatalog([skill("zeta", "Last\nskill."), skill("alpha", "First.", "Use for  A.")]);
    expect(c.text).toBe(
      `${HEADER}\n- alpha: First. Use for A. (/skills/alpha/SKILL.md)\n- zeta: Last skill. (/skills/zeta/SKILL.md)\n`,
    );
    expect(c).toMatchObject({ listed: 2, namesOnly: 0, omitted: 0, descriptionCap: undefined });
  });

  it("is empty without skills and identical for the same skills in any order", () => {
    expect(renderCatalog([]).text).toBe("");
    const a = renderCatalog([skill("a", "A"), skill("b", "B")]);
    const b = renderCatalog([skill("b", "B"), skill("a", "A")]);
    expect(a.text).toBe(b.text);
  });

  it("shortens descriptions to the longest common length that fits the budget", () => {
    const skills = Array.from({ length: 10 }, (_, i) => skill(`s${i}`, `${"word ".repeat(60)}end`));
    const full = renderCatalog(skills, { budgetTokens: 100_000 });
    const tight = renderCatalog(skills, { budgetTokens: 700 });
    expect(full.descriptionCap).toBeUndefined();
    expect(tight.tokens).toBeLessThanOrEqual(700);
    expect(tight.listed).toBe(10);
    const cap = tight.descriptionCap as number;
    expect(cap).toBeGreaterThanOrEqual(60);
    // The cap follows the budget: 30 tokens more or less moves it by about 12 characters per skill.
    expect(renderCatalog(skills, { budgetTokens: 730 }).descriptionCap).toBeGreaterThan(cap + 8);
    expect(renderCatalog(skills, { budgetTokens: 670 }).descriptionCap).toBeLessThan(cap - 8);
    expect(tight.text).toContain("…");
  });

  it("falls back to names, then to a count, when even short descriptions overflow", () => {
    const skills = Array.from({ length: 40 }, (_, i) =>
      skill(`skill-${String(i).padStart(2, "0")}`, "d".repeat(200)),
    );
    const c = renderCatalog(skills, { budgetTokens: 400 });
    expect(c.tokens).toBeLessThanOrEqual(400);
    expect(c.listed).toBeGreaterThan(0);
    expect(c.namesOnly).toBeGreaterThan(0);
    expect(c.listed + c.namesOnly + c.omitted).toBe(40);
    expect(c.text).toContain("- Also available (call read_skill for details): ");
    const counted = renderCatalog(skills, { budgetTokens: 120 });
    expect(counted.omitted).toBeGreaterThan(0);
    expect(counted.text).toContain(`- ${counted.omitted} more skill(s) not listed for space.`);
  });

  it("uses the estimator it is given", () => {
    const words = (t: string) => t.split(/\s+/).length;
    const c = renderCatalog([skill("a", "one two three")], { budgetTokens: 1000, estimateTokens: words });
    expect(c.tokens).toBe(words(c.text));
  });
});
