// A process of delaying TCP proxies for the WAN rows: one per target port, each chunk held
// `--delay` ms in each direction; prints {targetPort: proxyPort} as one JSON line, then serves.

import { parseArgs } from "node:util";
import { TcpProxy } from "../../tests/helpers/proxy.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { delay: { type: "string" }, targets: { type: "string" } },
});
const delayMs = Number(values.delay);
const targets = (values.targets ?? "").split(",").map(Number);
if (
  !Number.isSafeInteger(delayMs) || delayMs < 0 || targets.some((p) => !Number.isSafeInteger(p))
) {
  console.error("usage: delay_proxy.ts --delay MS --targets PORT[,PORT...]");
  Deno.exit(2);
}
// One proxy per (dialer, target) pair is asked for by listing a target once per dialer.
const ports = targets.map((t) => new TcpProxy(t, delayMs).port);
console.log(JSON.stringify(ports));
