import { type Analysis, INTERPRETERS, type Invocation, SHELLS } from "./commands.ts";
import { type Add, operands, optionsOf } from "./rules-system.ts";
import { isSecretPath } from "./targets.ts";

// Rules about where data and code flow: pipelines, substitutions, downloads, sockets.

const FETCHERS =
  /^(curl|wget|fetch|http|https|xh|aria2c|lwp-download|lwp-request|get|lynx|links|w3m|tftp|ftp)$/;
const NETWORK_TOOLS =
  /^(curl|wget|nc|ncat|netcat|nc\.traditional|nc\.openbsd|socat|telnet|scp|sftp|rsync|ftp|tftp|ssh|mail|mailx|sendmail|dig|nslookup|host|ping|http|https|xh|aws|gsutil|rclone|openssl|smbclient)$/;
const SOCKET_TOOLS = /^(nc|ncat|netcat|nc\.traditional|nc\.openbsd|socat|telnet|openssl|cryptcat|pwncat)$/;
const ENV_DUMPERS = /^(env|printenv|set|export|declare|typeset|compgen|history)$/;
const READERS =
  /^(cat|tac|less|more|head|tail|bat|batcat|strings|xxd|hexdump|od|base64|base32|cp|tar|zip|7z|gzip|bzip2|xz|grep|egrep|rg|awk|gawk|sed|sort|uniq|nl|cut|vi|vim|nvim|nano|emacs|open|scp|rsync|gpg|openssl|python[0-9.]*|source|\.)$/;

/** True when the invocation runs code it reads from stdin (a shell or interpreter with no script). */
export function readsCodeFromStdin(inv: Invocation): boolean {
  const { name, args } = inv;
  if (name === "source" || name === ".") return args[0] === "/dev/stdin" || args[0] === "-";
  if (name === "eval") return false;
  const opts = optionsOf(args);
  const ops = operands(args);
  if (SHELLS.has(name)) {
    if (opts.short.has("c")) return inv.via.includes("xargs");
    return ops.length === 0 || ops[0] === "-" || ops[0] === "/dev/stdin" || opts.short.has("s");
  }
  if (INTERPRETERS.test(name)) {
    if (args.some((a) => /^-(c|e|E|m|r|p|n|ne|pe|i|-eval|-print|-version|V|h|-help)$/.test(a))) return false;
    return ops.length === 0 || ops[0] === "-" || ops[0] === "/dev/stdin";
  }
  return false;
}

/** True for decoders and transforms that turn an opaque payload into code. */
export function isDecoder(inv: Invocation): boolean {
  const { name, args } = inv;
  const opts = optionsOf(args);
  if (/^(base64|base32|basenc)$/.test(name))
    return opts.short.has("d") || opts.short.has("D") || opts.long.has("--decode");
  if (name === "xxd") return opts.short.has("r") || args.some((a) => /^-[a-z]*r/.test(a));
  if (name === "openssl")
    return (
      args.some((a) => a === "-d" || a === "-base64" || a === "base64" || a === "-a") && args.includes("-d")
    );
  if (/^(uudecode|gunzip|zcat|bunzip2|bzcat|unxz|xzcat|unzstd|zstdcat|rev|tr|lzcat|unlzma)$/.test(name))
    return true;
  if (/^(gzip|bzip2|xz|zstd|lzma)$/.test(name)) return opts.short.has("d") || opts.long.has("--decompress");
  if (name === "printf") return /\\x[0-9a-fA-F]|\\[0-7]{3}/.test(args.join(" "));
  if (name === "echo") return opts.short.has("e") && /\\x[0-9a-fA-F]|\\[0-7]{3}/.test(args.join(" "));
  return false;
}

function isFetcher(inv: Invocation): boolean {
  return FETCHERS.test(inv.name) || (inv.name === "openssl" && inv.args[0] === "s_client");
}

/** True when the invocation reads a credential file or shell history (or dumps the environment). */
function readsSecrets(inv: Invocation): string | undefined {
  const { name, args } = inv;
  if (ENV_DUMPERS.test(name)) {
    if (name === "history" && args.length === 0) return "the shell history";
    if ((name === "env" || name === "printenv") && operands(args).length === 0) return "the environment";
    if (
      (name === "set" || name === "export" || name === "declare" || name === "typeset") &&
      (args.length === 0 || args.includes("-p") || args.includes("-x"))
    )
      return "the environment";
    if (name === "compgen" && args.includes("-v")) return "the environment";
  }
  // `mv` takes the file away with it; `git diff --no-index` prints any two files.
  const gitReads = name === "git" && args.includes("--no-index");
  if (
    READERS.test(name) ||
    INTERPRETERS.test(name) ||
    NETWORK_TOOLS.test(name) ||
    name === "mv" ||
    gitReads
  ) {
    const secret = pathArguments(inv).find(isSecretPath);
    if (secret) return secret;
  }
  const fromSecret = inv.redirects.find(
    (r) => (r.op === "<" || r.op === "<>") && isSecretPath(r.target.text),
  );
  if (fromSecret) return fromSecret.target.text;
  if (
    name === "security" &&
    /^(find-generic-password|find-internet-password|dump-keychain|export)$/.test(args[0] ?? "")
  )
    return "the keychain";
  return undefined;
}

/**
 * Paths an invocation's arguments may name: the argument, the value after `=`, and a file
 * after `@` (curl's `-d @file`, `-F f=@file`). Identity files (`ssh -i key`) are used for
 * authentication, not sent, and are skipped.
 */
function pathArguments(inv: Invocation): string[] {
  const out: string[] = [];
  const identity = /^(ssh|scp|sftp|rsync)$/.test(inv.name);
  inv.args.forEach((a, i) => {
    if (
      identity &&
      (inv.args[i - 1] === "-i" || /^-o$/.test(inv.args[i - 1] ?? "") || /^IdentityFile=/i.test(a))
    )
      return;
    out.push(a);
    const eq = a.indexOf("=");
    if (eq > 0) out.push(a.slice(eq + 1));
    const at = a.lastIndexOf("@");
    if (at >= 0 && !/^[\w.-]+@[\w.-]+:/.test(a)) out.push(a.slice(at + 1));
  });
  return out;
}

function substitutionsDo(inv: Invocation, test: (i: Invocation) => boolean): Invocation | undefined {
  for (const sub of inv.substitutions) for (const i of sub.invocations) if (test(i)) return i;
  return undefined;
}

/** `curl | sh`, `base64 -d | bash`, `nc -l | sh`, secrets piped to the network. */
export function pipelines(analysis: Analysis, add: Add): void {
  for (const stages of analysis.pipelines) {
    const text = stages.map((s) => s.text).join(" | ");
    stages.forEach((stage, k) => {
      if (k === 0 || !readsCodeFromStdin(stage)) return;
      const before = stages.slice(0, k);
      if (before.some(isFetcher))
        add("remote_code_execution", "critical", `pipes downloaded content into ${stage.name}`, text);
      else if (before.some(isDecoder))
        add("encoding_bypass", "critical", `decodes a payload and pipes it into ${stage.name}`, text);
    });
    const socket = stages.find((s) => SOCKET_TOOLS.test(s.name));
    const shell = stages.find((s) => SHELLS.has(s.name) && !optionsOf(s.args).short.has("c"));
    if (socket && shell)
      add(
        "reverse_shell",
        "critical",
        `connects a shell to a network socket (${socket.name} with ${shell.name})`,
        text,
      );
    const secretAt = stages.findIndex((s) => readsSecrets(s) !== undefined);
    if (secretAt >= 0) {
      const sender = stages.slice(secretAt + 1).find((s) => NETWORK_TOOLS.test(s.name));
      if (sender)
        add(
          "credential_exfiltration",
          "critical",
          `sends ${readsSecrets(stages[secretAt] as Invocation)} over the network with ${sender.name}`,
          text,
        );
    }
  }
}

/** `bash -c "$(curl ...)"`, `bash <(curl ...)`, `eval "$(base64 -d ...)"`, `curl -d "$(cat ~/.aws/credentials)"`. */
export function substitutions(inv: Invocation, add: Add): void {
  if (inv.substitutions.length === 0) return;
  const runsCode =
    SHELLS.has(inv.name) || INTERPRETERS.test(inv.name) || /^(eval|source|\.|exec)$/.test(inv.name);
  if (runsCode) {
    const fetch = substitutionsDo(inv, isFetcher);
    if (fetch)
      add("remote_code_execution", "critical", `runs code downloaded by ${fetch.name} with ${inv.name}`);
    const decode = substitutionsDo(inv, isDecoder);
    if (decode && !fetch)
      add("encoding_bypass", "critical", `runs a payload decoded by ${decode.name} with ${inv.name}`);
  }
  if (NETWORK_TOOLS.test(inv.name)) {
    const reader = substitutionsDo(inv, (i) => readsSecrets(i) !== undefined);
    if (reader)
      add(
        "credential_exfiltration",
        "critical",
        `sends ${readsSecrets(reader)} over the network with ${inv.name}`,
      );
  }
}

/** Network tools given a credential file directly (`curl -F f=@~/.ssh/id_rsa`, `scp ~/.aws/credentials host:`). */
export function directExfiltration(inv: Invocation, add: Add): void {
  const secret = readsSecrets(inv);
  if (!secret) return;
  if (NETWORK_TOOLS.test(inv.name) && inv.name !== "openssl") {
    add("credential_exfiltration", "critical", `sends ${secret} over the network with ${inv.name}`);
  } else if (!ENV_DUMPERS.test(inv.name)) {
    add("credential_exfiltration", "medium", `reads the credential file ${secret}`);
  }
}

/** Clearing or disabling shell history. */
export function historyTampering(inv: Invocation, add: Add): void {
  const { name, args } = inv;
  if (name === "history" && args.some((a) => a === "-c" || a === "-w"))
    add("credential_exfiltration", "medium", "clears the shell history");
  if (name === "unset" && args.includes("HISTFILE"))
    add("credential_exfiltration", "medium", "disables the shell history");
}

/** Raw sockets, `nc -e`, `socat exec:`, `xterm -display`. */
export function reverseShell(inv: Invocation, add: Add): void {
  const { name, args } = inv;
  const text = /^(echo|printf|grep|egrep|fgrep|rg|git|man|sed|awk|cat|less|head|tail|wc)$/.test(name);
  const words = [...(text ? [] : [inv.path, ...args]), ...inv.redirects.map((r) => r.target.text)];
  if (words.some((w) => /\/dev\/(tcp|udp)\//.test(w)))
    add("reverse_shell", "critical", "opens a raw network socket through /dev/tcp");
  if (
    /^(nc|ncat|netcat|nc\.traditional|nc\.openbsd|cryptcat)$/.test(name) &&
    args.some((a) => /^-[a-zA-Z]*[ec]$|^--(exec|sh-exec|lua-exec)/.test(a))
  )
    add("reverse_shell", "critical", `${name} runs a program for a network peer`);
  if (name === "socat" && args.some((a) => /(^|[,:])(exec|system)[:,]|pty/i.test(a)))
    add("reverse_shell", "critical", "socat connects a program to a socket");
  if (name === "xterm" && args.includes("-display"))
    add("reverse_shell", "critical", "xterm opens a terminal on a remote display");
  if (name === "mkfifo" && /\b(nc|ncat|netcat|telnet|openssl)\b/.test(inv.text))
    add("reverse_shell", "critical", "mkfifo loop with a network tool");
}

/** Shell strings and code that interpreters run inline. */
export function inlineCode(analysis: Analysis, add: Add): void {
  for (const { invocation, code } of analysis.code) {
    const socket =
      /socket|fsockopen|TCPSocket|net\.connect|net\.Socket|createConnection|IO::Socket|require\(\s*["'](net|tls|dgram)["']\s*\)/i.test(
        code,
      ) || invocation.args.includes("-rsocket");
    const spawn =
      /subprocess|pty\.spawn|dup2|os\.system|popen|exec\s*\(|execSync|spawn\s*\(|child_process|\/bin\/(ba)?sh|proc_open|system\s*\(/i.test(
        code,
      );
    if (socket && spawn)
      add(
        "reverse_shell",
        "critical",
        `${invocation.name} code connects a shell to a socket`,
        invocation.text,
      );
    if (
      /(exec|eval|system|Function)\s*\(.*(b64decode|base64|atob\(|fromCharCode|unhexlify|decode\(\s*['"](hex|base64)|\\x[0-9a-f]{2})/is.test(
        code,
      )
    )
      add(
        "encoding_bypass",
        "critical",
        `${invocation.name} code decodes and runs a payload`,
        invocation.text,
      );
    if (
      /while[^\n]*(True|1|true)[^\n]*:?[\s\S]*os\.fork\(\)|fork\s+while\s+fork|while\s*\(\s*(true|1)\s*\)\s*\{?[^}]*fork\(\)/.test(
        code,
      )
    )
      add("fork_bomb", "critical", `${invocation.name} code forks without limit`, invocation.text);
  }
}

/**
 * `:(){ :|:& };:` and relatives, in every parsed script with quoted text blanked out (a
 * bomb inside `bash -c '...'` is found in the nested script, a bomb inside `echo '...'`
 * is only text).
 */
export function forkBomb(scripts: readonly string[], add: Add): void {
  for (const script of scripts) {
    const bare = script.replace(/'[^']*'|"(?:[^"\\]|\\.)*"/g, "''");
    forkBombIn(bare, add);
  }
}

function forkBombIn(text: string, add: Add): void {
  const fn = /(?<![\w:.-])([A-Za-z_:.][\w:.-]{0,63})\s*\(\s*\)\s*\{[^}]*?\1\s*\|\s*\1\s*&/;
  const named = /function\s+([\w:.-]+)\s*(?:\(\s*\))?\s*\{[^}]*?\1\s*\|\s*\1\s*&/;
  const self = /\$0\s*[|&]\s*\$0\s*&|\.\/\$0\s*&\s*\.\/\$0/;
  const m = fn.exec(text) ?? named.exec(text) ?? self.exec(text);
  if (m) add("fork_bomb", "critical", "defines a function that spawns itself without limit", m[0]);
}

/** Files downloaded earlier in the same command line and then run (`curl -o x.sh URL && sh x.sh`). */
export function downloadThenRun(analysis: Analysis, add: Add): void {
  const downloaded = new Map<string, "downloaded" | "decoded">();
  const remember = (file: string, how: "downloaded" | "decoded") => {
    downloaded.set(file, how);
    downloaded.set(file.replace(/^\.\//, ""), how);
  };
  for (const inv of analysis.invocations) {
    if (inv.name === "curl" || inv.name === "wget") {
      for (const file of downloadTargets(inv)) remember(file, "downloaded");
      continue;
    }
    if (isDecoder(inv)) {
      for (const r of inv.redirects)
        if (/^(>|>>|>\|)$/.test(r.op) && r.fd === undefined) remember(r.target.text, "decoded");
      continue;
    }
    if (downloaded.size === 0) continue;
    const path = inv.path.replace(/^\.\//, "");
    const script =
      SHELLS.has(inv.name) || INTERPRETERS.test(inv.name) || inv.name === "source" || inv.name === "."
        ? operands(inv.args)[0]?.replace(/^\.\//, "")
        : undefined;
    const ran =
      downloaded.has(path) && inv.path.includes("/")
        ? path
        : script !== undefined && downloaded.has(script)
          ? script
          : undefined;
    if (ran && downloaded.get(ran) === "decoded")
      add("encoding_bypass", "high", `runs ${ran}, which it just decoded`);
    else if (ran) add("remote_code_execution", "high", `runs ${ran}, which it just downloaded`);
  }
}

function downloadTargets(inv: Invocation): string[] {
  const { name, args } = inv;
  const out: string[] = [];
  const urls = args.filter((a) => /^[a-z]+:\/\//i.test(a));
  const remoteName = (url: string) =>
    url
      .replace(/[?#].*$/, "")
      .split("/")
      .filter(Boolean)
      .pop() ?? "";
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (name === "curl" && (a === "-o" || a === "--output")) out.push(args[i + 1] ?? "");
    else if (name === "curl" && a.startsWith("--output=")) out.push(a.slice(9));
    else if (name === "curl" && /^-[a-zA-Z]*O$/.test(a)) out.push(...urls.map(remoteName));
    else if (name === "curl" && /^-[a-zA-Z]+o$/.test(a)) out.push(args[i + 1] ?? "");
    else if (name === "wget" && /^-[a-zA-Z]*O$/.test(a)) out.push(args[i + 1] ?? "");
    else if (name === "wget" && a.startsWith("--output-document=")) out.push(a.slice(18));
  }
  if (name === "wget" && out.length === 0) out.push(...urls.map(remoteName));
  for (const r of inv.redirects) if (/^(>|>>|>\|)$/.test(r.op) && r.fd === undefined) out.push(r.target.text);
  return out.filter((f) => f !== "" && f !== "-");
}
