import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { isTaifengError } from "../../src/errors.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { runCli } from "../helpers/cli.ts";

/**
 * A transcript copied in under another name is the thread its first line names, so it is
 * refused under the new name — never indexed over the original, never written — with an
 * error that says what happened and how to copy a thread (fork); `rebuild` reports it.
 */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-copied-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function original(): Promise<void> {
  const store = new JsonlThreadStore({ dir });
  const engine = await AgentEngine.open({
    model: new SimClient({ script: [{ text: "one" }, { text: "two" }] }),
    store,
    threadId: "thr_orig",
    title: "The original",
  });
  await engine.submitAndWait("first");
  await engine.submitAndWait("second");
  await engine.close();
  await store.close();
}

describe("a transcript copied in under another name", () => {
  it("is refused with an error that says so, and never takes the original's row", async () => {
    await original();
    await copyFile(join(dir, "thr_orig.jsonl"), join(dir, "thr_copy.jsonl"));
    const before = await readFile(join(dir, "thr_copy.jsonl"));
    const warnings: string[] = [];
    const store = new JsonlThreadStore({ dir, onWarning: (m) => warnings.push(m) });

    const rows = await store.list();
    expect(rows.map((r) => [r.threadId, r.turns, r.title])).toEqual([["thr_orig", 2, "The original"]]);
    expect(warnings.join("\n")).toContain("thread thr_copy is not indexed");

    const refused = (e: unknown) =>
      isTaifengError(e, "store_error") &&
      /thr_copy\.jsonl is thread thr_orig, not thr_copy: it was copied or renamed/.test(e.message) &&
      /taifeng threads fork thr_orig/.test(e.message);
    await expect(store.read("thr_copy")).rejects.toSatisfy(refused);
    await expect(
      AgentEngine.open({ model: new SimClient({ script: [{ text: "x" }] }), store, threadId: "thr_copy" }),
    ).rejects.toSatisfy(refused);

    const report = await store.rebuildIndex();
    expect(report.threads).toBe(1);
    expect(report.conflicts).toEqual([{ threadId: "thr_copy", claims: "thr_orig" }]);
    expect(report.skipped.map((s) => s.threadId)).toEqual(["thr_copy"]);
    expect((await store.list())[0]).toMatchObject({ threadId: "thr_orig", turns: 2 });
    await store.close();
    expect(await readFile(join(dir, "thr_copy.jsonl"))).toEqual(before); // nothing written to it
  });

  it("the CLI says so: threads rebuild lists it, threads show exits 1 with the reason", async () => {
    await original();
    await copyFile(join(dir, "thr_orig.jsonl"), join(dir, "thr_copy.jsonl"));
    const rebuild = await runCli(["threads", "rebuild", "--storage", dir]);
    expect(rebuild.code).toBe(0);
    expect(rebuild.stdout).toContain("indexed 1 thread(s)");
    expect(rebuild.stdout).toContain("skipped thr_copy:");
    expect(rebuild.stdout).toContain("is thread thr_orig, not thr_copy: it was copied or renamed");
    const show = await runCli(["threads", "show", "thr_copy", "--storage", dir]);
    expect(show.code).toBe(1);
    expect(show.stderr).toContain("it was copied or renamed");
  }, 30_000);
});
