// SSE clients for bench/server.bench.ts, run in a worker thread so that parsing 1,000 streams
// does not share the server's event loop. Each client counts event frames and, for
// assistant_text events, records the lag from the event's emit time (ev.ts, epoch ms) to the
// moment the frame was parsed here.
import { request } from "node:http";
import { parentPort, workerData } from "node:worker_threads";

interface Job {
  readonly urls: readonly string[];
  readonly until: string;
}

const job = workerData as Job;
const lags: number[] = [];
let frames = 0;
let connected = 0;
let finished = 0;

for (const url of job.urls) {
  const req = request(url, { headers: { accept: "text/event-stream" }, agent: false }, (res) => {
    connected++;
    if (connected === job.urls.length) parentPort?.postMessage({ type: "connected" });
    res.setEncoding("utf8");
    let buf = "";
    let done = false;
    res.on("data", (chunk: string) => {
      buf += chunk;
      let cut = buf.indexOf("\n\n");
      while (cut >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        cut = buf.indexOf("\n\n");
        const at = block.indexOf("\ndata: ");
        if (at < 0 || !block.includes("event: event")) continue;
        frames++;
        const data = block.slice(at + 7);
        if (data.includes('"type":"assistant_text"')) {
          const ts = Number(/"ts":(\d+)/.exec(data)?.[1]);
          lags.push(performance.timeOrigin + performance.now() - ts);
        }
        if (!done && data.includes(`"type":"${job.until}"`)) {
          done = true;
          finished++;
          req.destroy();
          if (finished === job.urls.length) parentPort?.postMessage({ type: "done", lags, frames });
        }
      }
    });
  });
  req.on("error", () => {});
  req.end();
}
