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

/**
 * Runs the variants in rounds, one run of each per round, so that a busy phase of the VM
 * weighs on all of them alike (the ratios between them are the finding).
 */
async function interleaved(
  variants: Record<string, () => Promise<unknown>>,
): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [name, run] of Object.entries(variants)) {
    out[name] = [];
    for (let i = 0; i < WARMUP; i++) await run();
  }
  for (let i = 0; i < RUNS; i++) {
    for (const [name, run] of Object.entries(variants)) {
      const t0 = performance.now();
      await run();
      out[name]?.push(performance.now() - t0);
    }
  }
  return out;
}

const ok = (r: Awaited<ReturnType<Sandbox["run"]>>) => {
  if (r.status !== "exited" || r.exitCode !== 0)
    throw new Error(`sandboxed true failed: ${JSON.stringify(r)}`);
};

const level0 = new Sandbox({ level: 0, writable: [dir], network: false });
const level1 = new Sandbox({ level: 1, writable: [dir], network: false });
// With a domain allowed, the runtime starts its two socat relays to the proxy in each sandbox.
const relays = new Sandbox({ level: 1, writable: [dir], network: { allow: ["example.com"] } });
try {
  const started = performance.now();
  const check = await level1.check();
  if (check.ok) {
    figures.sandbox_level1_start_ms = round(performance.now() - started, 1);
    await relays.check();
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
    const t = await interleaved({
      level0: async () => ok(await level0.run(trueRequest())),
      level1: async () => ok(await level1.run(trueRequest())),
      relays: async () => ok(await relays.run(trueRequest())),
      wrap: async () => {
        const w = await helper.wrap(["true"]);
        if ("error" in w) throw new Error(w.error);
        w.release();
      },
      bare: bareBwrap,
    });
    helper.close();
    const [l0, l1, rl, wr, bb] = [t.level0, t.level1, t.relays, t.wrap, t.bare] as number[][];
    figures.sandbox_level0_true_p50_ms = ms(l0 as number[], 50);
    figures.sandbox_level0_true_p99_ms = ms(l0 as number[], 99);
    figures.sandbox_level1_true_p50_ms = ms(l1 as number[], 50);
    figures.sandbox_level1_true_p99_ms = ms(l1 as number[], 99);
    figures.sandbox_level1_with_relays_true_p50_ms = ms(rl as number[], 50);
    figures.sandbox_level1_wrap_p50_ms = ms(wr as number[], 50);
    figures.sandbox_bare_bwrap_true_p50_ms = ms(bb as number[], 50);
    figures.sandbox_level1_vs_level0_p50 = round(
      percentile(l1 as number[], 50) / percentile(l0 as number[], 50),
      1,
    );
    figures.sandbox_level1_vs_bare_bwrap_p50 = round(
      percentile(l1 as number[], 50) / percentile(bb as number[], 50),
      1,
    );
    figures.sandbox_level1_wrap_share_p50 = round(
      percentile(wr as number[], 50) / percentile(l1 as number[], 50),
      2,
    );
  } else {
    figures.sandbox_level1_unavailable = check.reason;
  }
} finally {
  level0.close();
  level1.close();
  relays.close();
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
  sandbox_workload: `${RUNS} rounds (after ${WARMUP} warm-up runs each) of \`true\`, one run per variant per round: level 0; level 1 = @anthropic-ai/sandbox-runtime with no network, secrets hidden, the workspace writable; level 1 with one domain allowed (the runtime's socat relays start in each sandbox); the level-1 wrap alone; bare bubblewrap = --ro-bind / / --unshare-all, no seccomp or proxy`,
  sandbox_targets: { sandbox_level1_true_p50_ms: 20 },
  sandbox_loadavg_1m_at_start: loadAtStart,
};
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
console.log(`security (sandbox): ${JSON.stringify(figures)}\n  -> ${path}`);
