#!/usr/bin/env node
// The `taifeng` command: checks Node first, then runs the CLI, from the TypeScript sources
// in a checkout (Node strips the types) or from dist/ in the published package.
import { existsSync } from "node:fs";
import * as nodeModule from "node:module";
import { requireNode } from "./node-version.mjs";

const source = new URL("../src/cli/main.ts", import.meta.url);
const fromSource = existsSync(source);
requireNode(fromSource ? "source" : "package");
// Node's on-disk compile cache (in the OS temp directory; NODE_DISABLE_COMPILE_CACHE=1 turns
// it off) cuts the CLI's start-up CPU by about 40% from the second run on.
nodeModule.enableCompileCache?.();
await import(fromSource ? source.href : new URL("../dist/cli/main.js", import.meta.url).href);
