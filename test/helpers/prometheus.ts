/**
 * A strict reader of the Prometheus text exposition format (0.0.4) for tests: it throws on
 * anything a scraper would reject or misread (a sample before its family's HELP/TYPE, a bad
 * label escape, a histogram whose buckets decrease or disagree with its count).
 */

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A metric family: its HELP and TYPE, and its samples. */
export interface Family {
  readonly name: string;
  help: string | undefined;
  type: string | undefined;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SUFFIXES = ["_bucket", "_count", "_sum", "_total"];

function parseLabels(text: string, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new Error(`${where}: label without '='`);
    const key = text.slice(i, eq).trim();
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key)) throw new Error(`${where}: bad label name "${key}"`);
    if (text[eq + 1] !== '"') throw new Error(`${where}: label ${key} is not quoted`);
    let value = "";
    let j = eq + 2;
    for (;;) {
      const ch = text[j];
      if (ch === undefined) throw new Error(`${where}: unterminated label ${key}`);
      if (ch === '"') break;
      if (ch === "\n") throw new Error(`${where}: raw line feed in label ${key}`);
      if (ch === "\\") {
        const next = text[j + 1];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else throw new Error(`${where}: bad escape \\${next} in label ${key}`);
        j += 2;
        continue;
      }
      value += ch;
      j++;
    }
    if (key in out) throw new Error(`${where}: label ${key} repeated`);
    out[key] = value;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (i < text.length) throw new Error(`${where}: expected ',' after label ${key}`);
  }
  return out;
}

function familyOf(sample: string, families: Map<string, Family>): Family | undefined {
  if (families.has(sample)) return families.get(sample);
  for (const suffix of SUFFIXES)
    if (sample.endsWith(suffix)) {
      const f = families.get(sample.slice(0, -suffix.length));
      if (f) return f;
    }
  return undefined;
}

/** Parses and checks an exposition. Throws with the line number on any violation. */
export function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  if (!text.endsWith("\n")) throw new Error("the exposition does not end with a line feed");
  text
    .slice(0, -1)
    .split("\n")
    .forEach((line, n) => {
      const where = `line ${n + 1}`;
      if (line === "") return;
      const meta = /^# (HELP|TYPE|UNIT) (\S+) ?(.*)$/.exec(line);
      if (meta) {
        const [, kind, name, rest] = meta as unknown as [string, string, string, string];
        if (!NAME.test(name)) throw new Error(`${where}: bad metric name ${name}`);
        let f = families.get(name);
        if (!f) {
          f = { name, help: undefined, type: undefined, samples: [] };
          families.set(name, f);
        }
        if (f.samples.length > 0) throw new Error(`${where}: ${kind} after samples of ${name}`);
        if (kind === "HELP") f.help = rest;
        if (kind === "TYPE") {
          if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest))
            throw new Error(`${where}: unknown type ${rest}`);
          f.type = rest;
        }
        return;
      }
      if (line.startsWith("#")) return;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
      if (!m) throw new Error(`${where}: not a sample: ${line}`);
      const [, name, labels, raw] = m as unknown as [string, string, string | undefined, string];
      const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
      if (Number.isNaN(value) && raw !== "NaN") throw new Error(`${where}: bad value ${raw}`);
      const f = familyOf(name, families);
      if (!f?.help || !f.type) throw new Error(`${where}: sample ${name} without HELP and TYPE before it`);
      f.samples.push({ name, labels: labels ? parseLabels(labels, where) : {}, value });
    });
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let entry = series.get(key);
    if (!entry) {
      entry = { buckets: [] };
      series.set(key, entry);
    }
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      entry.buckets.push([le === "+Inf" ? Infinity : Number(le), s.value]);
    } else if (s.name === `${f.name}_count`) entry.count = s.value;
    else if (s.name === `${f.name}_sum`) entry.sum = s.value;
  }
  for (const [key, e] of series) {
    const sorted = [...e.buckets].sort((a, b) => a[0] - b[0]);
    if (sorted.at(-1)?.[0] !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
    for (let i = 1; i < sorted.length; i++)
      if ((sorted[i] as [number, number])[1] < (sorted[i - 1] as [number, number])[1])
        throw new Error(`${f.name}${key}: cumulative buckets decrease`);
    if (e.count === undefined || e.sum === undefined) throw new Error(`${f.name}${key}: no _count or _sum`);
    if (sorted.at(-1)?.[1] !== e.count) throw new Error(`${f.name}${key}: +Inf bucket differs from _count`);
  }
}

/** The value of the one sample of `family` (or its `sample` name) whose labels include `labels`. */
export function sampleValue(
  families: Map<string, Family>,
  family: string,
  labels: Record<string, string> = {},
  sample = family,
): number | undefined {
  const f = families.get(family);
  const hits = (f?.samples ?? []).filter(
    (s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (hits.length > 1) throw new Error(`${sample} ${JSON.stringify(labels)} matches ${hits.length} samples`);
  return hits[0]?.value;
}
