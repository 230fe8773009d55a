import { mkdtempSync, mkdirSync, writeFileSync, realpathSync } from "node:fs";
import { Sandbox } from "/tmp/secinst/src/sandbox/sandbox.ts";
import { subprocessEnv } from "/tmp/secinst/src/sandbox/env.ts";
const dir = realpathSync(mkdtempSync("/var/tmp/l1x-"));
mkdirSync(dir + "/ws"); writeFileSync(dir + "/secret", "hostsecret");
const s = new Sandbox({ level: 1, writable: [dir + "/ws"], network: false }, { home: dir + "/home" });
const r = await s.run({ argv: ["/bin/bash", "-c", `pwd; echo hi > f; cat f; ls /tmp; cat ${dir}/secret; echo t > /tmp/t; cat /tmp/t`], cwd: dir + "/ws", env: subprocessEnv({}), timeoutMs: 20000, signal: new AbortController().signal, killGraceMs: 200 });
console.log(JSON.stringify(r).slice(0, 1500));
s.close();
