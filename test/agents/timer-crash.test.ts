import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keepAlive } from "../../src/agents/index.ts";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { lastUserText } from "../helpers/agents.ts";

let dir: string;
let child: ReturnType<typeof spawn> | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-timer-crash-"));
});
afterEach(async () => {
  child?.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

async function killWithTimersSet(): Promise<number> {
  child = spawn(process.execPath, [join(import.meta.dirname, "timer-crash-child.ts"), dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const proc = child;
  let stderr = "";
  proc.stderr?.on("data", (d) => (stderr += d));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    proc.on("exit", (code, sig) => resolve(sig ?? code)),
  );
  const report = await new Promise<{ wakes: number }>((resolve, reject) => {
    let out = "";
    proc.stdout?.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.includes('"ready"'));
      if (line) resolve(JSON.parse(line));
    });
    void exited.then(() => reject(new Error(`the process exited early: ${stderr}`)));
  });
  proc.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  return report.wakes;
}

describe("a persistent root's timers across kill -9", () => {
  it("the wake due after the restart fires once after reopen; the fired, cancelled and later ones do not", async () => {
    expect(await killWithTimersSet()).toBe(1);
    const asked: string[] = [];
    const store = new JsonlThreadStore({ dir });
    const engine = await AgentEngine.open({
      model: new SimClient({
        script: Array.from({ length: 20 }, () => (r: Parameters<typeof lastUserText>[0]) => {
          asked.push(lastUserText(r));
          return { text: "ok" };
        }),
      }),
      store,
      threadId: "thr_timer_crash",
    });
    const root = keepAlive(engine, { store });
    await root.ready;
    const start = Date.now();
    while (asked.length === 0 && Date.now() - start < 20_000) await new Promise((r) => setTimeout(r, 20));
    // Long enough for a second firing (or the cancelled one) to show up if it were armed.
    await new Promise((r) => setTimeout(r, 500));
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatch(/^\[wake wk_\S+\] due after the restart$/);
    expect(root.wakes).toBe(1);
    await engine.close();

    // Reopened again: nothing is due any more (the hour-long wake is still pending, unfired).
    const again: string[] = [];
    const store2 = new JsonlThreadStore({ dir });
    const engine2 = await AgentEngine.open({
      model: new SimClient({
        script: [
          (r) => {
            again.push(lastUserText(r));
            return { text: "?" };
          },
        ],
      }),
      store: store2,
      threadId: "thr_timer_crash",
    });
    const root2 = keepAlive(engine2, { store: store2 });
    await root2.ready;
    await new Promise((r) => setTimeout(r, 300));
    expect(again).toEqual([]);
    await engine2.close();
  }, 60_000);
});
