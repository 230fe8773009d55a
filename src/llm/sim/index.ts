/** The simulator: a deterministic ModelClient for tests, examples and benchmarks. */

export * from "./prefix-cache.ts";
export * from "./script.ts";
export * from "./sim-client.ts";
export * from "./summary.ts";
