// Costs the built-in tools add to a tool call: command defense per command (it runs on
// every bash call, before the permission rules), and a level-0 vs level-1 sandboxed
// `true` (process start-up overhead of bash and of bubblewrap).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assessCommandSync } from "../src/permission/defense/assess.ts";
import { loadShellParser } from "../src/permission/shell/index.ts";
import { Sandbox } from "../src/sandbox/sandbox.ts";
import { percentile, round, writeResult } from "./lib.ts";

const corpus = readFileSync(new URL("../src/permission/defense/corpus.tsv", import.meta.url), "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "" && !l.startsWith("#"))
  .map((l) => l.split("\t").slice(2).join("\t"));

// Command defense: every corpus command, many rounds (the parser loaded first).
await loadShellParser();
const rounds = 20;
const perCommand: number[] = [];
for (let r = 0; r < rounds; r++) {
  for (const command of corpus) {
    const t0 = performance.now();
    assessCommandSync(command);
    perCommand.push(performance.now() - t0);
  }
}
const totalMs = perCommand.reduce((a, b) => a + b, 0);

async function spawnLatency(sandbox: Sandbox, n: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), "taifeng-bench-"));
  const out: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await sandbox.run({
        argv: ["/bin/bash", "-c", "true"],
        cwd: dir,
        env: { PATH: process.env.PATH ?? "" },
        timeoutMs: 0,
        signal: new AbortController().signal,
      });
      out.push(performance.now() - t0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const level0 = await spawnLatency(new Sandbox({ level: 0, writable: [], network: false }), 50);
const bwrap = new Sandbox({ level: 1, writable: [tmpdir()], network: false });
const probe = await bwrap.check();
const level1 = probe.ok ? await spawnLatency(bwrap, 50) : [];

writeResult(
  "tools",
  {
    defense_commands: corpus.length,
    defense_per_command_p50_us: round(percentile(perCommand, 50) * 1000, 1),
    defense_per_command_p99_us: round(percentile(perCommand, 99) * 1000, 1),
    defense_commands_per_second: Math.round((perCommand.length / totalMs) * 1000),
    sandbox_level0_true_p50_ms: round(percentile(level0, 50)),
    sandbox_level0_true_p99_ms: round(percentile(level0, 99)),
    sandbox_level1_true_p50_ms: level1.length ? round(percentile(level1, 50)) : "unavailable",
    sandbox_level1_true_p99_ms: level1.length ? round(percentile(level1, 99)) : "unavailable",
  },
  {
    workload: `assessCommandSync over the ${corpus.length}-command labelled corpus x ${rounds} rounds; 50 runs of \`bash -c true\` per sandbox level`,
    level1: probe.ok ? "bubblewrap" : probe.reason,
  },
);
