import { describe, expect, it } from "vitest";
import { newId } from "./ids.ts";

describe("newId", () => {
  it("is prefix_time(9) salt(12) counter(5), sorted by creation and unique", () => {
    const ids = Array.from({ length: 2000 }, (_, i) => newId("sub", 1_700_000_000_000 + (i >> 4)));
    for (const id of ids) expect(id).toMatch(/^sub_[0-9a-z]{9}[0-9a-f]{12}[0-9a-z]{5}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    const time = (id: string) => Number.parseInt(id.slice(4, 13), 36);
    expect(time(ids[0] as string)).toBe(1_700_000_000_000);
    expect(time(ids.at(-1) as string)).toBe(1_700_000_000_000 + (1999 >> 4));
  });

  it("reads the clock when no time is given", () => {
    const before = Date.now();
    const id = newId("thr");
    const time = Number.parseInt(id.slice(4, 13), 36);
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(Date.now());
  });
});
