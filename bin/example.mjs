#!/usr/bin/env node
// `npm run example <name>`: runs examples/<name>.ts after checking Node, so an old Node says in
// one line what it needs instead of failing on the .ts extension.
import { readdirSync } from "node:fs";
import { requireNode } from "./node-version.mjs";

requireNode("source");
const dir = new URL("../examples/", import.meta.url);
const names = readdirSync(dir)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .sort();
const name = (process.argv[2] ?? "").replace(/\.ts$/, "").replace(/^examples\//, "");
if (!names.includes(name)) {
  process.stderr.write(`usage: npm run example <name>, one of: ${names.join(", ")}\n`);
  process.exit(2);
}
await import(new URL(`${name}.ts`, dir).href);
