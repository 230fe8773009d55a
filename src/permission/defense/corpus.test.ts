import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadShellParser } from "../shell/index.ts";
import { assessCommandSync as assessCommand } from "./assess.ts";

beforeAll(async () => {
  await loadShellParser();
});

interface Case {
  readonly line: number;
  readonly verdict: string;
  readonly category: string;
  readonly command: string;
}

const ESCAPES: Record<string, string> = { NL: "\n", CR: "\r", ESC: "\u001b", NUL: "\u0000", ZWSP: "\u200b" };

function loadCorpus(): Case[] {
  const text = readFileSync(new URL("./corpus.tsv", import.meta.url), "utf8");
  const cases: Case[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "" || raw.startsWith("#")) return;
    const [verdict, category, ...rest] = raw.split("\t");
    const command = rest
      .join("\t")
      .replace(/\{\{(NL|CR|ESC|NUL|ZWSP)\}\}/g, (_m, k: string) => ESCAPES[k] as string);
    if (!verdict || !category || command === "")
      throw new Error(`corpus.tsv line ${i + 1} is malformed: ${raw}`);
    cases.push({ line: i + 1, verdict, category, command });
  });
  return cases;
}

const corpus = loadCorpus();
const dangerous = corpus.filter((c) => c.verdict !== "allow");
const benign = corpus.filter((c) => c.verdict === "allow");

describe("command defense corpus", () => {
  it("is large and covers every category", () => {
    expect(dangerous.length).toBeGreaterThanOrEqual(290);
    expect(benign.length).toBeGreaterThanOrEqual(210);
    const categories = new Set(dangerous.map((c) => c.category));
    expect([...categories].sort()).toEqual([
      "credential_exfiltration",
      "dangerous_redirect",
      "destructive_delete",
      "disk_partition",
      "disk_write",
      "encoding_bypass",
      "fork_bomb",
      "git_destructive",
      "network_change",
      "obfuscation",
      "persistence",
      "privilege_escalation",
      "remote_code_execution",
      "reverse_shell",
      "service_stop",
      "shutdown_reboot",
    ]);
  });

  it("misses no dangerous command (verdict and category as labelled)", () => {
    const misses = dangerous.flatMap((c) => {
      const a = assessCommand(c.command);
      const categories = a.findings.map((f) => f.category);
      if (a.verdict === c.verdict && categories.includes(c.category as never)) return [];
      return [
        `line ${c.line}: ${JSON.stringify(c.command)} -> ${a.verdict} [${categories.join(", ")}], want ${c.verdict} ${c.category}`,
      ];
    });
    expect(misses).toEqual([]);
  });

  it("blocks no benign command", () => {
    const blocks = benign.flatMap((c) => {
      const a = assessCommand(c.command);
      if (a.verdict === "allow") return [];
      return [
        `line ${c.line}: ${JSON.stringify(c.command)} -> ${a.verdict}: ${a.findings.map((f) => `${f.category} (${f.reason})`).join("; ")}`,
      ];
    });
    expect(blocks).toEqual([]);
  });
});
