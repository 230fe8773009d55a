/** The simulator: a deterministic ModelClient for tests, examples and benchmarks. */
export * from "./script.ts";
export * from "./sim-client.ts";
