import { isAbsolute } from "node:path";
import { pathsIn } from "./glob.ts";
import type { SyntaxNode } from "./parser.ts";
import type { Dirs, ShellRedirect } from "./types.ts";
import { expandAssignmentValue, expandWord, type Field, literalField, type WordScope } from "./words.ts";

const WRITE_OPS = new Set([">", ">>", ">|", "&>", "&>>"]);

/** Reads a `file_redirect`, `heredoc_redirect` or `herestring_redirect` node. */
export function redirectOf(
  node: SyntaxNode,
  scope: WordScope & { readonly dirs: Dirs },
): ShellRedirect | undefined {
  const fdText = node.childForFieldName("descriptor")?.text;
  const fd = fdText === undefined ? undefined : Number(fdText);
  switch (node.type) {
    case "file_redirect": {
      const op = node.children.find((c) => c !== null && !c.isNamed)?.type ?? ">";
      const words = node.childrenForFieldName("destination").filter((c): c is SyntaxNode => c !== null);
      if (op === ">&-" || op === "<&-") return undefined;
      const fields = words.flatMap((w) => expandWord(w, scope));
      const target: Field =
        fields.length === 1
          ? (fields[0] as Field)
          : {
              ...literalField(words.map((w) => w.text).join(" ")),
              known: false,
              dynamic: true,
              match: "\u0000",
            };
      if ((op === ">&" || op === "<&") && target.known && /^(\d+-?|-)$/.test(target.text)) return undefined;
      const write = WRITE_OPS.has(op) || op === ">&";
      // `< <(cmd)` reads a pipe, not a file; the commands inside are analysed.
      if (words.length === 1 && words[0]?.type === "process_substitution")
        return { op, fd, target, paths: [], unknownPath: false, write, text: node.text };
      const known = target.known;
      return {
        op,
        fd,
        target,
        paths: known ? pathsIn(target.text, scope.dirs) : [],
        unknownPath: !known || (scope.dirs.unknown && !isAbsolute(target.text)),
        write,
        text: node.text,
      };
    }
    case "herestring_redirect": {
      const word = node.namedChildren.find((c) => c !== null);
      const value = word ? expandAssignmentValue(word, scope) : literalField("");
      return {
        op: "<<<",
        fd,
        target: value,
        paths: [],
        unknownPath: false,
        write: false,
        content: `${value.text}\n`,
        contentDynamic: value.dynamic,
        text: node.text,
      };
    }
    case "heredoc_redirect": {
      const op = node.children.find((c) => c !== null && !c.isNamed && c.type.startsWith("<<"))?.type ?? "<<";
      const start = node.namedChildren.find((c) => c?.type === "heredoc_start")?.text ?? "";
      const body = node.namedChildren.find((c) => c?.type === "heredoc_body");
      const quoted = /['"\\]/.test(start);
      const { text, dynamic } = body ? heredocText(body, scope, quoted) : { text: "", dynamic: false };
      return {
        op,
        fd,
        target: literalField(start.replace(/['"\\]/g, "")),
        paths: [],
        unknownPath: false,
        write: false,
        content: op === "<<-" ? text.replace(/^\t+/gm, "") : text,
        contentDynamic: dynamic,
        text: node.text.split("\n")[0] ?? node.text,
      };
    }
    default:
      return undefined;
  }
}

/** A here-document's text after expansion (none when the delimiter is quoted). */
function heredocText(
  body: SyntaxNode,
  scope: WordScope,
  quoted: boolean,
): { text: string; dynamic: boolean } {
  const src = body.text;
  if (quoted) return { text: src, dynamic: false };
  const base = body.startIndex;
  let at = base;
  let text = "";
  let dynamic = false;
  const literal = (to: number) => {
    text += src
      .slice(at - base, to - base)
      .replace(/\\([$`\\\n])/g, (_m, c: string) => (c === "\n" ? "" : c));
  };
  for (const child of body.namedChildren) {
    if (!child || child.type === "heredoc_content") continue;
    literal(child.startIndex);
    const value = expandAssignmentValue(child, scope);
    text += value.text;
    dynamic ||= value.dynamic;
    at = child.endIndex;
  }
  literal(body.endIndex);
  return { text, dynamic };
}
