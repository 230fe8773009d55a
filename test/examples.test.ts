import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.ts";

function runExample(name: string) {
  const res = spawnSync(process.execPath, [join(ROOT, "examples", name)], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 20_000,
  });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

describe("examples (no API key)", () => {
  it("quickstart runs a tool call through the pool and through run()", () => {
    const res = runExample("quickstart.ts");
    expect(res.err).toBe("");
    expect(res.code).toBe(0);
    expect(res.out).toContain('[tool] get_weather {"city":"Paris"}');
    expect(res.out).toContain("It is 18 °C and clear in Paris.");
    expect(res.out).toContain("[done] 2 model calls");
    expect(res.out).toContain("run() -> It is 18 °C and clear in Paris.");
  });

  it("parallel-tools overlaps the fetches and serializes the saves", () => {
    const res = runExample("parallel-tools.ts");
    expect(res.code).toBe(0);
    const lines = res.out.split("\n").map((l) => l.replace(/^\s*\d+ ms\s+/, ""));
    const idx = (s: string) => lines.indexOf(s);
    // every fetch starts before any fetch ends: they ran together
    const lastStart = Math.max(
      idx("start fetch a.example"),
      idx("start fetch b.example"),
      idx("start fetch c.example"),
    );
    const firstEnd = Math.min(
      idx("end   fetch a.example"),
      idx("end   fetch b.example"),
      idx("end   fetch c.example"),
    );
    expect(lastStart).toBeLessThan(firstEnd);
    // the saves do not overlap each other or the fetches
    expect(idx('start save "first"')).toBeGreaterThan(idx("end   fetch c.example"));
    expect(idx('start save "second"')).toBeGreaterThan(idx('end   save "first"'));
    expect(res.out).toContain(
      'outputs in call order: ["<html>a.example</html>","<html>b.example</html>","<html>c.example</html>","saved","saved"]',
    );
  });
});
