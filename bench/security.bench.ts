// Shell analysis cost: what a Bash call pays for the one analysis behind permission rules,
// command defense and the dangerous-command hook. Figures go to bench/results/security.json,
// merged with what other benchmarks write there (sec-sandbox adds sandbox_level1_true_p50_ms).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { machine, percentile, RESULTS_DIR, round } from "./lib.ts";

const loadAtStart = loadavg()[0] ?? 0;
const importStart = performance.now();
const { analyzeShellSync, loadShellParser } = await import("../src/permission/shell/index.ts");
const loadStart = performance.now();
const parser = await loadShellParser();
const parserLoadMs = performance.now() - loadStart;
const importMs = loadStart - importStart;
const firstStart = performance.now();
analyzeShellSync(parser, "true", { cwd: process.cwd(), home: "/nonexistent" });
const firstParseMs = performance.now() - firstStart;

const { assessCommandSync } = await import("../src/permission/defense/assess.ts");
const { defenseCommandCheck } = await import("../src/permission/defense/check.ts");
const { PermissionPolicy } = await import("../src/permission/policy.ts");
const { RULE_IDENTITIES } = await import("../src/permission/identity.ts");

const root = await realpath(await mkdtemp(join(tmpdir(), "taifeng-bench-security-")));
const cwd = join(root, "project");
const home = join(root, "home");
await mkdir(join(cwd, "src"), { recursive: true });
await mkdir(home, { recursive: true });
await writeFile(join(cwd, "name.txt"), "parser\n");
const ctx = { cwd, home };

const SIMPLE = "git status --short";
/** Five commands in a list and a pipeline, three substitutions, a redirect and a cd. */
const COMPOUND =
  'cd src && REV=$(git rev-parse --short HEAD) npm test -- --grep "$(cat name.txt)" | tee out.log; echo "done $(date +%s)" >> log.txt || rm -rf build/tmp';

function sample(fn: () => void, iterations: number): number[] {
  for (let i = 0; i < Math.min(500, iterations); i++) fn();
  const out: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const s = performance.now();
    fn();
    out.push((performance.now() - s) * 1000);
  }
  return out;
}

/**
 * Per call: wall time, whether a garbage collection overlapped it, and whether this process
 * was preempted during it (involuntary context switches: the 2-core VM giving the CPU to
 * other processes). Also this thread's CPU time per call on average (the kernel counts it
 * in ticks, too coarse for one call).
 */
function detailed(fn: () => void, iterations: number) {
  for (let i = 0; i < 500; i++) fn();
  const gcs: { start: number; end: number }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ start: e.startTime, end: e.startTime + e.duration });
  });
  observer.observe({ entryTypes: ["gc"] });
  const rows: { start: number; end: number; preempted: boolean }[] = [];
  const cpu0 = process.threadCpuUsage();
  for (let i = 0; i < iterations; i++) {
    const switches = process.resourceUsage().involuntaryContextSwitches;
    const start = performance.now();
    fn();
    const end = performance.now();
    rows.push({ start, end, preempted: process.resourceUsage().involuntaryContextSwitches !== switches });
  }
  const cpu = process.threadCpuUsage(cpu0);
  return new Promise<{ cpuMean: number; quiet: number[]; gcShare: number; preemptedShare: number }>(
    (resolve) =>
      setTimeout(() => {
        observer.disconnect();
        const gc = (r: { start: number; end: number }) => gcs.some((g) => g.start < r.end && g.end > r.start);
        const quiet = rows.filter((r) => !gc(r) && !r.preempted);
        resolve({
          cpuMean: (cpu.user + cpu.system) / iterations,
          quiet: quiet.map((r) => (r.end - r.start) * 1000),
          gcShare: rows.filter(gc).length / rows.length,
          preemptedShare: rows.filter((r) => r.preempted).length / rows.length,
        });
      }, 50),
  );
}

const iterations = 5000;
const simple = sample(() => analyzeShellSync(parser, SIMPLE, ctx), iterations);
const compound = sample(() => analyzeShellSync(parser, COMPOUND, ctx), iterations);
const compoundDetail = await detailed(() => analyzeShellSync(parser, COMPOUND, ctx), iterations);
// Fresh text at every call (a number in the line changes), as an engine sees new commands.
let n = 0;
const fresh = sample(
  () => analyzeShellSync(parser, COMPOUND.replace("build/tmp", `build/tmp${n++}`), ctx),
  iterations,
);
const parseOnly = sample(() => parser.parse(COMPOUND)?.delete(), iterations);
const defended = sample(() => assessCommandSync(COMPOUND, ctx), 2000);

// The corpus through the real check path: PermissionPolicy.evaluate with command defense.
const corpusCommands = ["adversarial.tsv", "everyday.tsv"].flatMap((file) =>
  readFileSync(new URL(`../test/security/${file}`, import.meta.url), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => {
      const cells = l.split("\t");
      return (file === "everyday.tsv" ? cells[1] : cells[2]) ?? "";
    })
    .map((c) =>
      c
        .replace(/\{\{NL\}\}/g, "\n")
        .replace(/\{\{CR\}\}/g, "\r")
        .replace(/\{\{ESC\}\}/g, "\u001b"),
    ),
);
const policy = new PermissionPolicy({
  layers: [
    {
      source: "cli",
      path: undefined,
      permissions: { allow: ["Bash"], deny: ["Bash(rm:*)"] },
      hooks: undefined,
    },
  ],
  projectRoot: cwd,
  home,
  commandCheck: defenseCommandCheck,
});
const bash = { name: "Bash", readOnly: false, permission: RULE_IDENTITIES.Bash };
for (const command of corpusCommands.slice(0, 50))
  await policy.evaluate({ tool: bash, input: { command }, cwd });
const rounds = 3;
const corpusStart = performance.now();
for (let r = 0; r < rounds; r++)
  for (const command of corpusCommands) await policy.evaluate({ tool: bash, input: { command }, cwd });
const corpusMs = performance.now() - corpusStart;
await rm(root, { recursive: true, force: true });

const figures = {
  parser_load_ms: round(parserLoadMs, 1),
  shell_module_import_ms: round(importMs, 1),
  parser_import_and_load_ms: round(importMs + parserLoadMs, 1),
  parser_first_parse_ms: round(firstParseMs, 1),
  analyze_simple_p50_us: round(percentile(simple, 50), 1),
  analyze_simple_p99_us: round(percentile(simple, 99), 1),
  analyze_compound_p50_us: round(percentile(compound, 50), 1),
  analyze_compound_p99_us: round(percentile(compound, 99), 1),
  analyze_compound_fresh_p50_us: round(percentile(fresh, 50), 1),
  analyze_compound_fresh_p99_us: round(percentile(fresh, 99), 1),
  analyze_compound_cpu_mean_us: round(compoundDetail.cpuMean, 1),
  analyze_compound_quiet_p50_us: round(percentile(compoundDetail.quiet, 50), 1),
  analyze_compound_quiet_p99_us: round(percentile(compoundDetail.quiet, 99), 1),
  analyze_compound_calls_with_gc_share: round(compoundDetail.gcShare, 4),
  analyze_compound_calls_preempted_share: round(compoundDetail.preemptedShare, 4),
  parse_compound_p50_us: round(percentile(parseOnly, 50), 1),
  defense_compound_p50_us: round(percentile(defended, 50), 1),
  corpus_cases: corpusCommands.length,
  corpus_cases_per_s: Math.round(((corpusCommands.length * rounds) / corpusMs) * 1000),
};

// Read-modify-write: other benchmarks keep their own keys in the same file.
mkdirSync(RESULTS_DIR, { recursive: true });
const path = join(RESULTS_DIR, "security.json");
const previous = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>) : {};
const m = machine();
const result = {
  ...previous,
  benchmark: "security",
  node: m.node,
  cpu: m.cpu,
  date: new Date().toISOString(),
  machine: m,
  figures: { ...((previous.figures as Record<string, unknown> | undefined) ?? {}), ...figures },
  analysis: {
    loadavg_1m_at_start: round(loadAtStart, 2),
    workload:
      "analyzeShellSync on a simple and a 5-command line with 3 substitutions (uncached, parser loaded); _fresh_: the line with a number changed at every call; _cpu_mean_: this thread's CPU time over all calls / calls (process.threadCpuUsage), which leaves out time the shared VM gave other processes; _quiet_: the calls that no garbage collection overlapped (PerformanceObserver gc entries) and during which this process was not preempted (no involuntary context switch); the share of calls hit by each is given; parse_compound_p50_us is tree-sitter's parse alone; the security corpus (adversarial + everyday) through PermissionPolicy.evaluate with command defense",
    definitions: {
      parser_load_ms:
        "loadShellParser() alone: web-tree-sitter init, grammar compile, a warm-up parse (before 2026-12-04 secperf this key also held the module import, now parser_import_and_load_ms)",
      shell_module_import_ms:
        "import of src/permission/shell (TypeScript stripped by Node at load in this bench)",
    },
    iterations,
    targets: { analyze_compound_p50_us: 50, analyze_compound_p99_us: 500, parser_load_ms: 30 },
  },
};
writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
console.log(`security: ${JSON.stringify(figures)}\n  -> ${path}`);
