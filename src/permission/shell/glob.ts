import { readdirSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import type { Dirs } from "./types.ts";
import { HOLE } from "./words.ts";

const MAX_MATCHES = 64;
const MAX_READS = 64;

/**
 * Expands a pathname pattern against the filesystem the way the shell would, reading
 * directories synchronously (bounded: at most 64 matches from at most 64 directory reads).
 * `pattern` is a field's matching form: every HOLE (a glob character or an unknown
 * expansion) matches any run of characters within one path segment. A relative pattern is
 * tried in each of `dirs`; matches keep the pattern's form (relative stays relative).
 */
export function expandGlob(pattern: string, dirs: readonly string[]): string[] {
  const absolute = isAbsolute(pattern);
  const segments = pattern.split("/").filter((s, i) => s !== "" || i === 0);
  const bases = absolute ? ["/"] : dirs;
  const out = new Set<string>();
  let reads = 0;
  for (const base of bases) {
    // Each candidate: [path on disk, path as the shell would print it].
    let candidates: [string, string][] = [[base, absolute ? "" : ""]];
    for (const [index, segment] of segments.entries()) {
      if (index === 0 && absolute && segment === "") continue;
      const last = index === segments.length - 1;
      const next: [string, string][] = [];
      if (!segment.includes(HOLE)) {
        for (const [disk, shown] of candidates)
          next.push([join(disk, segment), join1(shown, segment, absolute)]);
      } else {
        const regex = segmentRegex(segment);
        for (const [disk, shown] of candidates) {
          if (++reads > MAX_READS) return [...out];
          let names: string[];
          try {
            names = readdirSync(disk);
          } catch {
            continue;
          }
          for (const name of names) {
            if (name.startsWith(".") && !segment.startsWith(".")) continue;
            if (regex.test(name)) next.push([join(disk, name), join1(shown, name, absolute)]);
          }
        }
      }
      candidates = next;
      if (candidates.length === 0) break;
      if (last) for (const [, shown] of candidates) if (out.size < MAX_MATCHES) out.add(shown);
    }
  }
  return [...out];
}

function join1(shown: string, name: string, absolute: boolean): string {
  if (shown === "") return absolute ? `/${name}` : name;
  return `${shown}/${name}`;
}

function segmentRegex(segment: string): RegExp {
  const body = segment
    .split(HOLE)
    .map((piece) => piece.replace(/[.+?^${}()|[\]\\*]/g, "\\$&"))
    .join("[^/]*");
  return new RegExp(`^${body}$`);
}

/** Resolves a path against every directory a command may run in. */
export function pathsIn(path: string, dirs: Dirs): string[] {
  if (isAbsolute(path)) return [resolve(path)];
  return dirs.known.map((d) => resolve(d, path));
}
