import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentTree } from "../../src/agents/index.ts";
import type { ModelRequest } from "../../src/llm/types.ts";
import { lastUserText, treeModel } from "../helpers/agents.ts";
import { crashTreeOptions } from "./crash-shared.ts";

let dir: string;
let child: ReturnType<typeof spawn> | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-mail-crash-"));
});
afterEach(async () => {
  child?.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

/** Runs mail-crash-child.ts until it reports, then kills it with SIGKILL. */
async function killWithMailInFlight(): Promise<string[]> {
  child = spawn(process.execPath, [join(import.meta.dirname, "mail-crash-child.ts"), dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const proc = child;
  let stderr = "";
  proc.stderr?.on("data", (d) => (stderr += d));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    proc.on("exit", (code, sig) => resolve(sig ?? code)),
  );
  const report = await new Promise<{ agents: string[] }>((resolve, reject) => {
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
  return report.agents;
}

/** Every user text the model saw in a request (task, steers). */
const userTexts = (r: ModelRequest) =>
  r.items.flatMap((i) =>
    i.type === "message" && i.role === "user" ? i.content.map((p) => (p.type === "text" ? p.text : "")) : [],
  );

describe("durable mailboxes across kill -9", () => {
  it("a message to a suspended agent and one to a queued agent each reach the recipient's next model call once after the restart", async () => {
    expect(await killWithMailInFlight()).toEqual([
      "root running",
      "root/inline#1 running",
      "root/inline#2 waiting",
      "root/inline#3 queued",
    ]);
    const seenBy: Record<string, string[][]> = {};
    const record = (agent: string) => (r: ModelRequest) => {
      seenBy[agent] = [...(seenBy[agent] ?? []), userTexts(r)];
    };
    const model = treeModel({
      root: [{ text: "all done" }],
      "root/inline#1": [{ text: "told them" }],
      "root/inline#2": [
        (r) => {
          record("root/inline#2")(r);
          return { text: "deployed" };
        },
        (r) => {
          record("root/inline#2")(r);
          return { text: "deployed" };
        },
      ],
      "root/inline#3": [
        (r) => {
          record("root/inline#3")(r);
          return { text: `later: ${lastUserText(r).split("\n")[0]}` };
        },
      ],
    });
    const tree = await AgentTree.open({ model, ...crashTreeOptions(dir), limits: { maxLive: 2 } });
    const pending = await waitFor(() => tree.pendingRequests());
    expect(pending.map((p) => p.agent)).toEqual(["root/inline#2"]);
    tree.answer(pending[0]?.requestId as string, { decision: "allow_once" });
    await waitFor(
      () =>
        tree.list().every((a) => a.status !== "running" && a.status !== "waiting" && a.status !== "queued") ||
        undefined,
    );

    // inline#2 read the message in the model call after its approved deploy, once.
    const two = seenBy["root/inline#2"] ?? [];
    expect(two.length).toBeGreaterThan(0);
    const blue = (texts: string[]) => texts.filter((t) => t.includes("the deploy label is blue")).length;
    expect(blue(two[0] ?? [])).toBe(1);
    for (const texts of two) expect(blue(texts)).toBeLessThanOrEqual(1);
    expect(two[0]?.find((t) => t.includes("blue"))).toMatch(
      /^\[message from root\/inline#1 \(msg_[0-9a-f]{16}\)\] the deploy label is blue$/,
    );
    // inline#3 started after the restart with the message beside its task, once.
    const three = seenBy["root/inline#3"] ?? [];
    expect(three).toHaveLength(1);
    expect(three[0]?.join("\n").split("start with the docs").length).toBe(2);
    await tree.close();

    // A second restart delivers nothing again: the recipients' transcripts show the messages.
    const again: string[] = [];
    const quiet = treeModel({
      "*": [
        (r) => {
          again.push(lastUserText(r));
          return { text: "?" };
        },
      ],
    });
    const reopened = await AgentTree.open({ model: quiet, ...crashTreeOptions(dir), limits: { maxLive: 2 } });
    await new Promise((r) => setTimeout(r, 300));
    expect(again).toEqual([]);
    await reopened.close();
  }, 60_000);
});

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = probe();
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) return v;
    if (Date.now() - start > timeoutMs) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
