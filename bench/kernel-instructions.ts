// Runs the kernel-overhead workload N times (env N, default 1000) and nothing else: a target
// for counting instructions, which unlike wall time does not swing with the VM's speed.
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --single-threaded \
//     bench/kernel-instructions.ts   (with N=1000 and N=3000; per run = difference / 2000)
import { kernelModel, kernelRun } from "./lib.ts";

const N = Number(process.env.N ?? 1000);
const model = kernelModel();
for (let i = 0; i < N; i++) await kernelRun(model);
