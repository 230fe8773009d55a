// `taifeng worker`: a real CLI process takes jobs, and SIGTERM lets it finish and exit 0.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { DATABASE_URL, REDIS_URL, services } from "../helpers/services.ts";
import { type Harness, harness } from "./harness.ts";

const svc = await services();
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

describe.runIf(svc.run)("taifeng worker", () => {
  it("runs submitted threads from a registry module and stops gracefully on SIGTERM", async () => {
    h = await harness();
    const child = spawn(
      process.execPath,
      [
        join(ROOT, "bin/taifeng.mjs"),
        "worker",
        "--registry",
        "test/backends/registry-module.ts",
        "--concurrency",
        "2",
        "--queue",
        h.queue,
        "--prefix",
        h.queue,
        "--schema",
        h.schema,
      ],
      {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL, REDIS_URL, TAIFENG_TEST_DIR: h.dir },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    const deadline = Date.now() + 30_000;
    while (!stderr.includes("ready") && Date.now() < deadline && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toContain("taifeng worker: ready (concurrency 2)");
    const threadId = await h.backend.createThread({
      recipe: { model: "sim:effects", tools: ["slow_effect"] },
    });
    const ticket = await h.backend.submit(threadId, "slow_effect 1");
    while (!readFileSync(join(h.dir, "effects.log"), { flag: "a+", encoding: "utf8" }).includes(threadId))
      await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGTERM"); // mid-effect: the worker finishes the turn before it exits
    expect(await exited).toBe(0);
    expect(stderr).toContain("finishing running threads");
    expect(await h.backend.outcome(ticket)).toMatchObject({ status: "completed", text: "done 1" });
  }, 60_000);
});
