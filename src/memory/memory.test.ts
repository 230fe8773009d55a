import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { shape } from "../../test/helpers/events.ts";
import { SimClient } from "../llm/sim/sim-client.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { Event } from "../protocol/index.ts";
import { loadProjectMemory } from "./load.ts";
import { projectMemory } from "./prepare.ts";

let base: string;
let home: string;
let repo: string;
let cwd: string;

function write(path: string, text: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), "tf-memory-"));
  home = join(base, "home");
  repo = join(base, "repo");
  cwd = join(repo, "packages", "app");
  mkdirSync(join(repo, ".git"), { recursive: true });
  mkdirSync(cwd, { recursive: true });
  write(join(home, ".taifeng", "AGENTS.md"), "Always answer in English.");
  write(join(repo, "AGENTS.md"), "Use pnpm. Tabs for indentation.");
  write(join(cwd, "CLAUDE.md"), "Spaces for indentation in this package.");
  write(join(cwd, "src", "legacy", "AGENTS.md"), "Do not refactor legacy code.");
  write(join(cwd, "node_modules", "dep", "AGENTS.md"), "ignored: inside node_modules");
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

describe("loadProjectMemory", () => {
  it("orders user, project root to cwd, then subtrees; later wins, and says so", () => {
    const m = loadProjectMemory({ cwd, home });
    expect(m.sources.map((s) => [s.scope, s.path.slice(base.length)])).toEqual([
      ["user", "/home/.taifeng/AGENTS.md"],
      ["project", "/repo/AGENTS.md"],
      ["project", "/repo/packages/app/CLAUDE.md"],
      ["subtree", "/repo/packages/app/src/legacy/AGENTS.md"],
    ]);
    expect(m.sources[3]?.appliesTo).toBe(join("src", "legacy"));
    expect(m.text).toContain("where they disagree, a later one wins");
    const order = [
      "Always answer in English.",
      "Use pnpm.",
      "Spaces for indentation",
      "Do not refactor legacy",
    ].map((t) => m.text.indexOf(t));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(m.text).toContain(`instructions for files under ${join("src", "legacy")}/ only`);
    expect(m.text).not.toContain("node_modules");
  });

  it("caps each file and the whole block, keeping the most specific files first", () => {
    write(join(repo, "AGENTS.md"), "R".repeat(5_000));
    const m = loadProjectMemory({ cwd, home: false, subtrees: false, maxFileBytes: 4_000, maxBytes: 4_100 });
    const [root, local] = m.sources;
    expect(local).toMatchObject({ scope: "project", truncated: false });
    expect(root).toMatchObject({ scope: "project", truncated: true });
    expect((root?.bytes ?? 0) + (local?.bytes ?? 0)).toBeLessThanOrEqual(4_100);
    expect(m.text).toContain("[cut: file too long]");
  });

  it("finds nothing outside a project without failing", () => {
    const empty = mkdtempSync(join(tmpdir(), "tf-memory-empty-"));
    try {
      expect(loadProjectMemory({ cwd: empty, home: false })).toMatchObject({ text: "", sources: [] });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("projectMemory in an engine", () => {
  it("keeps the prefix byte-identical across turns and re-reads a changed file at the next turn", async () => {
    const systems: string[] = [];
    const sim = new SimClient({
      name: "mem",
      script: [
        (r) => {
          systems.push(r.system);
          return { text: "ok" };
        },
      ],
      onExhausted: "repeat_last",
    });
    const events: Event[] = [];
    const memory = projectMemory({ home });
    const engine = await AgentEngine.open({
      model: sim,
      cwd,
      system: "You are a coding agent.",
      prepareTurn: memory.prepareTurn(),
      listeners: [(e) => events.push(e)],
      context: false,
    });
    await engine.submitAndWait("one");
    await engine.submitAndWait("two");
    expect(systems[1]).toBe(systems[0]);
    expect(systems[0]?.startsWith("You are a coding agent.\n\n# Project memory")).toBe(true);
    const file = join(cwd, "CLAUDE.md");
    writeFileSync(file, "Two spaces for indentation in this package.");
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    const third = await engine.submitAndWait("three");
    await engine.close();
    expect(systems[2]).toContain("Two spaces for indentation");
    expect(shape(third)).toEqual([
      "turn_started",
      "warning project_memory_changed",
      'user_message input "three"',
      "model_call_started 1",
      'assistant_text "ok"',
      'assistant_message "ok"',
      "model_call_completed 1 stop",
      "turn_completed",
    ]);
  });
});
