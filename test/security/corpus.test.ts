import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CheckBox, checkBox, readCorpus } from "./corpus.ts";

// Every adversarial and everyday command through `taifeng permissions check`.

const adversarial = readCorpus("./adversarial.tsv", ["expected", "rules", "command", "note"]);
const everyday = readCorpus("./everyday.tsv", ["rules", "command"]);

let box: CheckBox;
beforeAll(async () => {
  box = await checkBox();
});
afterAll(() => box.cleanup());

describe("security corpus through taifeng permissions check", () => {
  it("is large enough and labels every case deny or ask", () => {
    expect(adversarial.length).toBeGreaterThanOrEqual(300);
    expect(everyday.length).toBeGreaterThanOrEqual(200);
    expect(new Set(adversarial.map((c) => c.expected))).toEqual(new Set(["deny", "ask"]));
  });

  it("decides every adversarial case as labelled (never allow)", async () => {
    const wrong: string[] = [];
    for (const c of adversarial) {
      const got = await box.check(c.command, c.rules);
      if (got.decision !== c.expected)
        wrong.push(
          `line ${c.line} [${c.rules}] ${JSON.stringify(c.command)} -> ${got.decision}, want ${c.expected}: ${got.reason}`,
        );
    }
    expect(wrong).toEqual([]);
  });

  it("denies every adversarial case in dontAsk mode", async () => {
    const wrong: string[] = [];
    for (const c of adversarial) {
      const got = await box.check(c.command, c.rules, "dontAsk");
      if (got.decision !== "deny")
        wrong.push(`line ${c.line} ${JSON.stringify(c.command)} -> ${got.decision}`);
    }
    expect(wrong).toEqual([]);
  });

  it("allows every everyday command", async () => {
    const wrong: string[] = [];
    for (const c of everyday) {
      const got = await box.check(c.command, c.rules);
      if (got.decision !== "allow")
        wrong.push(`line ${c.line} ${JSON.stringify(c.command)} -> ${got.decision}: ${got.reason}`);
    }
    expect(wrong).toEqual([]);
  });
});
