// What a sandboxed command costs: a trivial `true` through level 0 (process group and
// lifeline watchdog) and level 1 (@anthropic-ai/sandbox-runtime: helper wrap, bubblewrap,
// seccomp helper, proxy bridge), with a bare bubblewrap `true` measured in the same run for
// reference. Figures go into bench/results/security.json beside the shell-analysis ones
// (read, merged, written back: keys this file does not write are kept).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, loadavg } from "node:os";
import { join } from "node:path";
import { Sandbox } from "../src/sandbox/sandbox.ts";
import { SandboxHelper } from "../src/sandbox/srt/client.ts";
import type { RunRequest } from "../src/sandbox/types.ts";
import { machine, percentile, RESULTS_DIR, round } from "./lib.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const WARMUP = 5;

const dir = mkdtempSync("/var/tmp/taifeng-sandbox-bench-");
const trueRequest = (): RunRequest => ({
  argv: ["true"],
  cwd: dir,
  env: { PATH: "/usr/bin:/bin" },
  timeoutMs: 0,
  signal: new AbortController().signal,
});

async function timed(n: number, run: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await run();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await run();
    out.push(performance.now() - t0);
  }
  return out;
}

function bareBwrap(): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = [
      "--ro-bind",
      "/",
      "/",
      "--dev",
      "/dev",
      "--proc",
      "/proc",
      "--unshare-all",
      "--die-with-parent",
      "--",
      "true",
    ];
    const child = spawn("bwrap", args, { stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", () => resolve());
  });
}

const figures: Record<string, number | string> = {};
// The VM is shared: say how busy it was, since absolute times move with it (ratios less).
const loadAtStart = round(loadavg()[0] ?? 0, 2);
const ms = (sample: number[], p: number) => round(percentile(sample, p), 2);
try {
  const level0 = await timed(RUNS, () =>
    new Sandbox({ level: 0, writable: [dir], network: false }).run(trueRequest()),
  );
  figures.sandbox_level0_true_p50_ms = ms(level0, 50);
  figures.sandbox_level0_true_p99_ms = ms(level0, 99);

  const level1 = new Sandbox({ level: 1, writable: [dir], network: false });
  const started = performance.now();
  const check = await level1.check();
  if (check.ok) {
    figures.sandbox_level1_start_ms = round(performance.now() - started, 1);
    const runs = await timed(RUNS, async () => {
      const r = await level1.run(trueRequest());
      if (r.status !== "exited" || r.exitCode !== 0) throw new Error(`level 1 failed: ${JSON.stringify(r)}`);
    });
    figures.sandbox_level1_true_p50_ms = ms(runs, 50);
    figures.sandbox_level1_true_p99_ms = ms(runs, 99);
    // The wrap alone (the helper's round trip: .env walk, ripgrep scan, bubblewrap arguments).
    const helper = new SandboxHelper({
      root: dir,
      writable: [dir],
      network: false,
      home: homedir(),
      hide: [],
      reveal: [],
      ripgrep: "rg",
    });
    await helper.start();
    const wraps = await timed(RUNS, async () => {
      const w = await helper.wrap(["true"]);
      if ("error" in w) throw new Error(w.error);
      w.release();
    });
    helper.close();
    figures.sandbox_level1_wrap_p50_ms = ms(wraps, 50);
    const bare = await timed(RUNS, bareBwrap);
    figures.sandbox_bare_bwrap_true_p50_ms = ms(bare, 50);
    figures.sandbox_level1_vs_level0_p50 = round(percentile(runs, 50) / percentile(level0, 50), 1);
  } else {
    figures.sandbox_level1_unavailable = check.reason;
  }
  level1.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// Read, merge, write back: sec-analyzer's shell-analysis figures live in the same file.
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
  sandbox_workload: `${RUNS} runs (after ${WARMUP} warm-up) of \`true\` per variant, one after another; level 1 = @anthropic-ai/sandbox-runtime with no network, secrets hidden, the workspace writable; bare bubblewrap = --ro-bind / / --unshare-all, no seccomp or proxy`,
  sandbox_targets: { sandbox_level1_true_p50_ms: 20 },
  sandbox_loadavg_1m_at_start: loadAtStart,
};
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
console.log(`security (sandbox): ${JSON.stringify(figures)}\n  -> ${path}`);
