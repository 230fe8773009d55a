#!/usr/bin/env node
import { main } from "./program.ts";

let interrupts = 0;
const handlers = new Set<() => void>();
process.on("SIGINT", () => {
  interrupts++;
  if (interrupts > 1 || handlers.size === 0) process.exit(130);
  for (const handler of handlers) handler();
});

const code = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  onInterrupt(handler) {
    handlers.add(handler);
    return () => handlers.delete(handler);
  },
});
process.exitCode = code;
