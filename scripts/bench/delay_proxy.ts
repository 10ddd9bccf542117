// A process of delaying TCP proxies for the WAN rows: `--count` proxies, each chunk held `--delay`
// ms in each direction; prints their ports as one JSON line, then reads "K PORT" lines from stdin
// that aim proxy K at a target port (a node's port is known only once it listens).

import { parseArgs } from "node:util";
import { TcpProxy } from "../../tests/helpers/proxy.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { delay: { type: "string" }, count: { type: "string" } },
});
const delayMs = Number(values.delay);
const count = Number(values.count);
if (!Number.isSafeInteger(delayMs) || delayMs < 0 || !Number.isSafeInteger(count) || count < 1) {
  console.error("usage: delay_proxy.ts --delay MS --count N   (then 'K PORT' lines on stdin)");
  Deno.exit(2);
}
// Until aimed, a proxy closes what it accepts (its target port is 0), as a node not up yet would.
const proxies = Array.from({ length: count }, () => new TcpProxy(0, delayMs));
console.log(JSON.stringify(proxies.map((p) => p.port)));
let pending = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  pending += chunk;
  const lines = pending.split("\n");
  pending = lines.pop()!;
  if (pending.length > 100) {
    // ("K PORT" is a few characters: more without a newline is not from the bench)
    console.error("delay_proxy: a stdin line over 100 characters; stopping");
    Deno.exit(2);
  }
  for (const line of lines) {
    const [k, port] = line.trim().split(" ").map(Number);
    if (proxies[k] && Number.isSafeInteger(port)) proxies[k].targetPort = port;
    else console.error(`delay_proxy: ignored the line ${JSON.stringify(line)}`);
  }
}
// (stdin ended: whoever started this process is gone)
Deno.exit(0);
