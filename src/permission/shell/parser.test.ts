import { beforeAll, describe, expect, it } from "vitest";
import type { Node as TsNode } from "web-tree-sitter";
import { readCorpus } from "../../../test/security/corpus.ts";
import { loadShellParser, type SyntaxNode, withTree } from "./parser.ts";

// The analysis reads the tree through SyntaxNode, a view that caches what it read from
// web-tree-sitter and derives `isNamed` and `text` itself. If the view ever disagreed with
// the parser, the analysis would judge a different command than the one that runs.

type Shape = {
  type: string;
  start: number;
  end: number;
  text: string;
  named: boolean;
  error: boolean;
  missing: boolean;
  fields: Record<string, number[]>;
  children: Shape[];
};

const FIELDS = [
  "name",
  "value",
  "body",
  "redirect",
  "variable",
  "right",
  "descriptor",
  "destination",
  "argument",
];

function fromTs(n: TsNode): Shape {
  const fields: Record<string, number[]> = {};
  for (const f of FIELDS) fields[f] = n.childrenForFieldName(f).map((c) => c.startIndex);
  return {
    type: n.type,
    start: n.startIndex,
    end: n.endIndex,
    text: n.text,
    named: n.isNamed,
    error: n.hasError,
    missing: n.isMissing,
    fields,
    children: n.children.map((c) => fromTs(c as TsNode)),
  };
}

const mismatches: string[] = [];

function fromView(n: SyntaxNode): Shape {
  const fields: Record<string, number[]> = {};
  for (const f of FIELDS) fields[f] = n.childrenForFieldName(f).map((c) => c.startIndex);
  const shape = {
    type: n.type,
    start: n.startIndex,
    end: n.endIndex,
    text: n.text,
    named: n.isNamed,
    error: n.hasError,
    missing: n.isMissing,
    fields,
    children: n.children.map(fromView),
  };
  // namedChildren and childForFieldName hand out the same nodes as children.
  const named = n.children.filter((c) => c.isNamed);
  if (n.namedChildren.some((c, i) => c !== named[i]) || n.namedChildren.length !== named.length)
    mismatches.push(`namedChildren of ${n.type} at ${n.startIndex}`);
  for (const f of FIELDS)
    if (n.childForFieldName(f) !== (n.childrenForFieldName(f)[0] ?? null))
      mismatches.push(`field ${f} of ${n.type} at ${n.startIndex}`);
  return shape;
}

describe("SyntaxNode view of the tree", () => {
  let parser: Awaited<ReturnType<typeof loadShellParser>>;
  beforeAll(async () => {
    parser = await loadShellParser();
  });

  it("says what web-tree-sitter says for every node of the security corpus", () => {
    const commands = [
      ...readCorpus("./adversarial.tsv", ["expected", "rules", "command", "note"]),
      ...readCorpus("./everyday.tsv", ["rules", "command"]),
    ].map((c) => c.command);
    // Error trees, missing nodes and non-ASCII text (offsets in UTF-16 units) too.
    commands.push(
      "echo 'unterminated",
      "if true; then echo",
      "echo héllo 🙂 | grep 'ü' > ünï.txt",
      "a=(1 2; b",
    );
    let errors = 0;
    const differ: string[] = [];
    for (const command of commands) {
      const expected = (() => {
        const tree = parser.parse(command);
        if (!tree) throw new Error("no tree");
        try {
          return fromTs(tree.rootNode);
        } finally {
          tree.delete();
        }
      })();
      const actual = withTree(parser, command, fromView);
      if (JSON.stringify(actual) !== JSON.stringify(expected)) differ.push(command);
      if (expected.error) errors++;
    }
    expect(differ).toEqual([]);
    expect(mismatches).toEqual([]);
    expect(commands.length).toBeGreaterThan(600);
    expect(errors).toBeGreaterThan(3);
  });
});
