import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Two files at a time even on a 2-core machine (vitest's default there is one): most suite
    // time is spent waiting on child processes, servers and services, not on the CPU. Measured
    // on the 2-core VM: 299 s with two workers, 603 s with one (the whole suite green in both).
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
