// `taifeng run --backend bullmq`: the real CLI submits through the queue, a real `taifeng worker`
// process runs the turn, and the CLI prints the worker's events and exits with the outcome.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { Event } from "../../src/index.ts";
import { DATABASE_URL, REDIS_URL, services } from "../helpers/services.ts";
import { type Harness, harness } from "./harness.ts";

const svc = await services();
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const CLI = join(ROOT, "bin/taifeng.mjs");
let h: Harness | undefined;
const procs: ChildProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await h?.cleanup();
  h = undefined;
});

function cli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL, REDIS_URL, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  procs.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function startWorker(hh: Harness) {
  const worker = cli(
    [
      "worker",
      "--registry",
      "test/backends/registry-module.ts",
      "--concurrency",
      "2",
      "--queue",
      hh.queue,
      "--prefix",
      hh.queue,
      "--schema",
      hh.schema,
    ],
    { TAIFENG_TEST_DIR: hh.dir },
  );
  const deadline = Date.now() + 60_000;
  while (!worker.err().includes("ready") && Date.now() < deadline && worker.child.exitCode === null)
    await new Promise((r) => setTimeout(r, 50));
  expect(worker.err()).toContain("taifeng worker: ready");
  return worker;
}

describe.runIf(svc.run)("taifeng run --backend bullmq", () => {
  it("submits through the queue: a worker process runs the turn, the CLI streams its events and exits 0", async () => {
    h = await harness();
    await startWorker(h);
    // The queue, prefix and schema come from a configuration file; the URLs from the environment.
    const config = join(h.dir, "queued.config.json");
    writeFileSync(config, JSON.stringify({ backend: { queue: h.queue, prefix: h.queue, schema: h.schema } }));
    const run = cli(
      [
        "run",
        "--backend",
        "bullmq",
        "--config",
        config,
        "--json",
        "-m",
        "sim:effects",
        "--tools",
        "effect",
        "--allow",
        "effect",
        "effect 2",
      ],
      {},
    );
    expect(await run.exited).toBe(0);
    const events = run
      .out()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Event);
    const threadId = events[0]?.threadId as string;
    const types = events.filter((e) => e.submissionId === events.at(-1)?.submissionId).map((e) => e.msg.type);
    expect(types[0]).toBe("turn_started");
    expect(types.at(-1)).toBe("turn_completed");
    const outputs = events.flatMap((e) => (e.msg.type === "tool_call_completed" ? [e.msg.output] : []));
    expect(outputs).toEqual(["effect 0 done", "effect 1 done"]);
    // The effects ran in the worker process, once each.
    const effects = readFileSync(join(h.dir, "effects.log"), "utf8").trim().split("\n");
    expect(effects.filter((l) => l.startsWith(`${threadId} `))).toHaveLength(2);
    expect(effects.every((l) => !l.endsWith(` ${run.child.pid}`))).toBe(true);
    // The transcript is in PostgreSQL under the recipe the flags described.
    const lines = await h.store.read(threadId);
    expect(lines.some((l) => l.type === "event" && l.payload.msg.type === "turn_completed")).toBe(true);
  }, 120_000);

  it("a recipe the worker cannot build fails the run with the worker's reason, exit 1", async () => {
    h = await harness();
    await startWorker(h);
    const config = join(h.dir, "queued.config.json");
    writeFileSync(config, JSON.stringify({ backend: { queue: h.queue, prefix: h.queue, schema: h.schema } }));
    const run = cli(
      [
        "run",
        "--backend",
        "bullmq",
        "--config",
        config,
        "-m",
        "sim:effects",
        "--tools",
        "no_such_tool",
        "effect 1",
      ],
      {},
    );
    expect(await run.exited).toBe(1);
    expect(run.err()).toContain("no_such_tool");
  }, 120_000);

  it("without DATABASE_URL it is a usage error naming what is missing", async () => {
    const run = cli(["run", "--backend", "bullmq", "hello"], { DATABASE_URL: "" });
    expect(await run.exited).toBe(2);
    expect(run.err()).toContain("DATABASE_URL");
  }, 60_000);
});
