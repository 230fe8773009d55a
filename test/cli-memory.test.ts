import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.ts";

const base = mkdtempSync(join(tmpdir(), "tf-cli-memory-"));
const home = join(base, "home");
const project = join(base, "project");
mkdirSync(join(project, ".git"), { recursive: true });
mkdirSync(home, { recursive: true });
writeFileSync(join(project, "AGENTS.md"), "Run the tests with npm test.");

afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("taifeng run and project memory", () => {
  it("loads AGENTS.md and names it; --no-project-memory leaves it out", async () => {
    const env = { HOME: home };
    const on = await runCli(["run", "--json", "hi"], { cwd: project, env });
    expect(on.code).toBe(0);
    expect(on.stderr).toContain("project memory: AGENTS.md\n");
    const off = await runCli(["run", "--json", "--no-project-memory", "hi"], { cwd: project, env });
    expect(off.code).toBe(0);
    expect(off.stderr).not.toContain("project memory");
  }, 60_000);
});
