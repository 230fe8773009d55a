// Permission evaluation cost: what one tool call pays before it may run.
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RULE_IDENTITIES, type ToolFacts } from "../src/permission/identity.ts";
import { PermissionPolicy } from "../src/permission/policy.ts";
import { loadShellParser } from "../src/permission/shell/index.ts";
import { percentile, round, writeResult } from "./lib.ts";

const root = await realpath(await mkdtemp(join(tmpdir(), "taifeng-bench-perm-")));
const cwd = join(root, "project");
await mkdir(join(cwd, "src"), { recursive: true });
await writeFile(join(cwd, "src", "a.ts"), "x");
await symlink(join(cwd, "src"), join(cwd, "linked"));

const coldStart = performance.now();
await loadShellParser();
const parserLoadMs = performance.now() - coldStart;

const policy = new PermissionPolicy({
  layers: [
    {
      source: "project",
      path: "settings.json",
      permissions: {
        allow: ["Bash(npm run *)", "Bash(git status)", "Edit(./src/**)", "WebFetch(domain:*.example.com)"],
        deny: ["Bash(rm -rf *)", "Read(./.env)", "Edit(//etc/**)"],
        ask: ["Bash(git push *)"],
      },
      hooks: undefined,
    },
  ],
  projectRoot: cwd,
  home: join(root, "home"),
});

const tool = (name: string): ToolFacts => ({
  name,
  readOnly: name === "Read",
  permission: RULE_IDENTITIES[name],
});
const cases: Record<string, { tool: ToolFacts; input: unknown }> = {
  bash_simple: { tool: tool("Bash"), input: { command: "npm run test" } },
  bash_compound: {
    tool: tool("Bash"),
    input: {
      command: "FOO=1 timeout 60 npm run build -- --prod > build.log 2>&1 && git status && echo $(date)",
    },
  },
  read_inside: { tool: tool("Read"), input: { path: "src/a.ts" } },
  edit_symlink: { tool: tool("Edit"), input: { path: "linked/a.ts" } },
  webfetch: { tool: tool("WebFetch"), input: { url: "https://api.example.com/v1" } },
};

// Distinct commands, as new commands from a model would be.
let serial = 0;
const fresh = (c: { tool: ToolFacts; input: unknown }, name: string) =>
  name.startsWith("bash")
    ? { ...c, input: { command: `${(c.input as { command: string }).command} #${serial++}` } }
    : c;
const iterations = 3000;
const figures: Record<string, number> = { parser_load_ms: round(parserLoadMs, 1) };
for (const [name, c] of Object.entries(cases)) {
  for (let i = 0; i < 300; i++) await policy.evaluate({ ...fresh(c, name), cwd });
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const call = fresh(c, name);
    const s = performance.now();
    await policy.evaluate({ ...call, cwd });
    samples.push((performance.now() - s) * 1000);
  }
  const total = performance.now() - t0;
  figures[`${name}_p50_us`] = round(percentile(samples, 50), 1);
  figures[`${name}_p99_us`] = round(percentile(samples, 99), 1);
  figures[`${name}_per_s`] = Math.round((iterations / total) * 1000);
}
await rm(root, { recursive: true, force: true });
writeResult("permissions", figures, {
  workload:
    "PermissionPolicy.evaluate, sequential, 8 rules in one layer; paths resolved through the real filesystem",
  iterations,
});
