import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers/skills.ts";
import { binaryFinder, checkRequirements, type HostEnvironment } from "./eligibility.ts";

let dir: string;
let cleanup: () => Promise<void>;
let host: HostEnvironment;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("taifeng-elig-"));
  const bin = join(dir, "bin");
  await mkdir(bin);
  await writeFile(join(bin, "present"), "#!/bin/sh\n");
  await chmod(join(bin, "present"), 0o755);
  await writeFile(join(bin, "not-executable"), "data");
  host = { env: { PATH: bin, TOKEN: "x", EMPTY: "" }, platform: "linux" };
});
afterAll(() => cleanup());

const none = { bins: [], anyBins: [], env: [], os: [] };

describe("skill eligibility", () => {
  it("is eligible when every requirement is met", async () => {
    const reasons = await checkRequirements(
      { bins: ["present"], anyBins: ["absent", "present"], env: ["TOKEN"], os: ["linux", "darwin"] },
      host,
      binaryFinder(host),
    );
    expect(reasons).toEqual([]);
  });

  it("gives one reason per unmet requirement", async () => {
    const reasons = await checkRequirements(
      { bins: ["absent", "not-executable"], anyBins: ["x", "y"], env: ["EMPTY", "MISSING"], os: ["win32"] },
      host,
      binaryFinder(host),
    );
    expect(reasons).toEqual([
      "runs only on win32 (this is linux)",
      "needs `absent` on PATH",
      "needs `not-executable` on PATH",
      "needs one of `x`, `y` on PATH",
      "needs the environment variable EMPTY",
      "needs the environment variable MISSING",
    ]);
    expect(await checkRequirements(none, host, binaryFinder(host))).toEqual([]);
  });
});
