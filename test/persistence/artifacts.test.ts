import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { MemoryThreadStore } from "../../src/conversation/memory-store.ts";
import type { ThreadStore } from "../../src/conversation/store.ts";
import { forkThread } from "../../src/conversation/thread-ops.ts";
import { isTaifengError } from "../../src/errors.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";

/** Artifacts are stored with the thread: they last, move and go as the thread does. */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-artifacts-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const meta = { tool: "bash", callId: "call_1" };

/** A thread with one turn, written by a real engine. */
async function thread(store: ThreadStore, threadId: string): Promise<void> {
  const engine = await AgentEngine.open({
    model: new SimClient({ script: [{ text: "ok" }] }),
    store,
    threadId,
  });
  await engine.submitAndWait("hi");
  await engine.close();
}

describe("JsonlThreadStore artifacts", () => {
  it("keeps an artifact beside the transcript, under an id that depends only on thread, call and content", async () => {
    const store = new JsonlThreadStore({ dir });
    await thread(store, "thr_a");
    const saved = await store.artifacts.save("thr_a", "line 1\nline 2\n", meta);
    expect(saved).toMatchObject({ id: expect.stringMatching(/^art_[0-9a-f]{24}$/), chars: 14, lines: 2 });
    expect(await readdir(join(dir, "thr_a.artifacts"))).toEqual([`${saved.id}.txt`]);
    // The same output saved again (a retry, a resumed turn) is the same artifact.
    expect((await store.artifacts.save("thr_a", "line 1\nline 2\n", meta)).id).toBe(saved.id);
    expect(
      (await store.artifacts.save("thr_a", "line 1\nline 2\n", { ...meta, callId: "call_2" })).id,
    ).not.toBe(saved.id);
    await store.close();

    // Another process (a new store over the directory) reads it; another thread does not.
    const again = new JsonlThreadStore({ dir });
    expect(await again.artifacts.read("thr_a", saved.id)).toBe("line 1\nline 2\n");
    expect(await again.artifacts.read("thr_b", saved.id)).toBeUndefined();
    expect(await again.artifacts.read("thr_a", "../thr_a")).toBeUndefined();
    await again.close();
  });

  it("holds each thread to its byte budget, oldest first, and refuses one artifact over it", async () => {
    const store = new JsonlThreadStore({ dir, maxArtifactBytes: 100 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const saved = await store.artifacts.save("thr_b", `${i}`.repeat(40), { ...meta, callId: `c${i}` });
      ids.push(saved.id);
      // Distinct modification times, oldest first, whatever the file system's resolution.
      const when = new Date(Date.now() - (10 - i) * 1000);
      await utimes(join(dir, "thr_b.artifacts", `${saved.id}.txt`), when, when);
    }
    expect(await store.artifacts.read("thr_b", ids[0] as string)).toBeUndefined();
    expect(await store.artifacts.read("thr_b", ids[1] as string)).toBe("1".repeat(40));
    expect(await store.artifacts.read("thr_b", ids[2] as string)).toBe("2".repeat(40));
    await expect(store.artifacts.save("thr_b", "x".repeat(101), meta)).rejects.toSatisfy(
      (e) =>
        isTaifengError(e, "store_error") &&
        /exceeds the per-thread artifact budget of 100 bytes/.test(String(e)),
    );
    await store.close();
  });

  it("deletes a thread's artifacts with the thread, and gives a fork its source's", async () => {
    const store = new JsonlThreadStore({ dir });
    await thread(store, "thr_c");
    const saved = await store.artifacts.save("thr_c", "full output", meta);
    const fork = await forkThread(store, "thr_c");
    expect(await store.artifacts.read(fork.threadId, saved.id)).toBe("full output");
    await store.delete("thr_c");
    expect(existsSync(join(dir, "thr_c.artifacts"))).toBe(false);
    expect(await store.artifacts.read("thr_c", saved.id)).toBeUndefined();
    expect(await store.artifacts.read(fork.threadId, saved.id)).toBe("full output"); // the fork keeps its own
    await store.close();
  });
});

describe("MemoryThreadStore artifacts", () => {
  it("follow the same contract: kept per thread, copied to forks, deleted with the thread", async () => {
    const store = new MemoryThreadStore();
    await thread(store, "thr_m");
    const saved = await store.artifacts.save("thr_m", "text", meta);
    const fork = await forkThread(store, "thr_m");
    expect(await store.artifacts.read(fork.threadId, saved.id)).toBe("text");
    await store.delete("thr_m");
    expect(await store.artifacts.read("thr_m", saved.id)).toBeUndefined();
    expect(await store.artifacts.read(fork.threadId, saved.id)).toBe("text");
  });
});
