import { dirname, isAbsolute, relative, sep } from "node:path";
import type { Facet } from "./facets.ts";

const SUBCOMMAND = /^[A-Za-z][\w.:-]*$/;
const RUNNERS = new Set(["run", "run-script", "exec", "x", "dlx"]);

/**
 * The allow rule an "always allow" answer adds for one facet, or undefined when none is
 * safe to offer. Commands get a prefix rule only when it names a subcommand
 * (`npm run test -- x` → `Bash(npm run test:*)`, `git commit -m x` → `Bash(git commit:*)`);
 * a command whose second word is an option gets an exact rule (`Bash(rm -rf build)`), so
 * one approval never allows every `rm`. Files get their directory, URLs their host.
 */
export function suggestRule(rule: string, toolName: string, facet: Facet, cwd: string): string | undefined {
  switch (facet.kind) {
    case "command":
      return facet.opaque || !facet.part
        ? undefined
        : commandRule(
            facet.part.argv.map((f) => (f.known ? f.text : undefined)),
            facet.subject,
          );
    case "read":
    case "edit": {
      if (!facet.path) return undefined;
      const name = facet.kind === "read" ? "Read" : "Edit";
      return `${name}(${pathSpecifier(facet.path.real, facet.path.isDirectory, cwd)})`;
    }
    case "network":
      return facet.host ? `WebFetch(domain:${facet.host})` : undefined;
    case "generic":
      if (rule === "Skill" && facet.subject) return `Skill(${facet.subject})`;
      return rule === toolName || rule.startsWith("mcp__") ? rule : toolName;
  }
}

function commandRule(argv: readonly (string | undefined)[], text: string): string | undefined {
  const [first, second, third] = argv;
  if (first === undefined || first === "") return undefined;
  if (argv.length === 1) return `Bash(${first}:*)`;
  if (second === undefined || !SUBCOMMAND.test(second)) return `Bash(${text})`;
  if (RUNNERS.has(second) && third !== undefined && SUBCOMMAND.test(third)) {
    return `Bash(${first} ${second} ${third}:*)`;
  }
  return `Bash(${first} ${second}:*)`;
}

function pathSpecifier(real: string, isDirectory: boolean, cwd: string): string {
  const dir = isDirectory ? real : dirname(real);
  const rel = relative(cwd, dir);
  const inside = rel === "" || !(rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel));
  if (inside) {
    if (rel === "") return isDirectory ? "./**" : `./${relative(cwd, real).split(sep).join("/")}`;
    return `./${rel.split(sep).join("/")}/**`;
  }
  const abs = dir.split(sep).join("/");
  return abs === "/" ? "//**" : `/${abs}/**`;
}
