import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tempDir, writeSkill } from "../../test/helpers/skills.ts";
import { SkillRegistry, type SkillSnapshot } from "./registry.ts";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(() => cleanup());

const open = (extra: Partial<Parameters<typeof SkillRegistry.open>[0]> = {}) =>
  SkillRegistry.open({ dirs: [dir], defaults: false, checkIntervalMs: 0, ...extra });

function nextChange(registry: SkillRegistry): Promise<SkillSnapshot> {
  return new Promise((resolve) => {
    const off = registry.onChange((s) => {
      off();
      resolve(s);
    });
  });
}

describe("skill registry", () => {
  it("keeps the same snapshot while nothing changes on disk", async () => {
    await writeSkill(dir, "a", "name: a\ndescription: A");
    const registry = await open();
    const first = registry.current;
    expect(first.version).toBe(1);
    expect(await registry.refresh()).toBe(first);
    expect(await registry.reload()).toBe(first);
  });

  it("picks up edits, additions and removals on refresh (stat fingerprint), each as a new snapshot", async () => {
    await writeSkill(dir, "a", "name: a\ndescription: A");
    const registry = await open();
    const v1 = registry.current;
    await writeSkill(dir, "a", "name: a\ndescription: A, edited");
    const v2 = await registry.refresh();
    expect(v2.version).toBe(2);
    expect(v2.skills.get("a")?.manifest.description).toBe("A, edited");
    expect(v1.skills.get("a")?.manifest.description).toBe("A");
    await writeSkill(dir, "b", "name: b\ndescription: B");
    expect((await registry.refresh()).usable.map((s) => s.name)).toEqual(["a", "b"]);
    await rm(join(dir, "a"), { recursive: true });
    const v4 = await registry.refresh();
    expect(v4.usable.map((s) => s.name)).toEqual(["b"]);
    expect(v4.version).toBe(4);
  });

  it("notices bundled files being added (directory times), not in-place edits of them (read live anyway)", async () => {
    await writeSkill(dir, "a", "name: a\ndescription: A", "body", { "reference/x.md": "one" });
    const registry = await open();
    const first = registry.current;
    await writeFile(join(dir, "a", "reference", "x.md"), "three");
    expect(await registry.refresh()).toBe(first);
    await writeFile(join(dir, "a", "reference", "y.md"), "new");
    expect((await registry.refresh()).skills.get("a")?.files).toEqual([
      { path: "reference/x.md", bytes: 5 },
      { path: "reference/y.md", bytes: 3 },
    ]);
  });

  it("reloads in the background when watching, and refresh waits for it", async () => {
    await writeSkill(dir, "a", "name: a\ndescription: A");
    const registry = await open({ debounceMs: 20 });
    await registry.watch();
    try {
      expect(registry.watching).toBe(true);
      const changed = nextChange(registry);
      await writeSkill(dir, "a", "name: a\ndescription: A, watched");
      const snapshot = await changed;
      expect(snapshot.skills.get("a")?.manifest.description).toBe("A, watched");
      expect(registry.current).toBe(snapshot);
      expect(await registry.refresh()).toBe(snapshot);
    } finally {
      registry.close();
    }
    expect(registry.watching).toBe(false);
  });

  it("checks the disk at most once per checkIntervalMs, sharing one check between callers", async () => {
    await writeSkill(dir, "a", "name: a\ndescription: A");
    const registry = await open({ checkIntervalMs: 60_000 });
    const first = registry.current;
    await writeSkill(dir, "a", "name: a\ndescription: A, edited");
    expect(await registry.refresh()).toBe(first);
    expect((await registry.reload()).skills.get("a")?.manifest.description).toBe("A, edited");
    const eager = await open();
    await writeSkill(dir, "a", "name: a\ndescription: A, again");
    const [x, y] = await Promise.all([eager.refresh(), eager.refresh()]);
    expect(x).toBe(y);
    expect(x.skills.get("a")?.manifest.description).toBe("A, again");
  });

  it("serializes concurrent reloads", async () => {
    await writeSkill(dir, "a", "name: a\ndescription: A");
    const registry = await open();
    await writeSkill(dir, "a", "name: a\ndescription: B");
    const [x, y] = await Promise.all([registry.reload(), registry.reload()]);
    expect(x).toBe(y);
    expect(registry.current.version).toBe(2);
  });
});
