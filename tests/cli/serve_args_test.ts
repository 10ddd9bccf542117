// `raftq serve` flags and environment: defaults, precedence, and one clear error for bad input.

import assert from "node:assert/strict";
import { parseServeArgs } from "../../src/cli/serve_args.ts";
import { UsageError } from "../../src/cli/usage_error.ts";

Deno.test("serve: defaults match the contract", () => {
  const c = parseServeArgs([], {});
  assert.equal(c.listenHost, "127.0.0.1");
  assert.equal(c.listenPort, 7400);
  assert.equal(c.advertiseUrl, "http://127.0.0.1:7400");
  assert.equal(c.dataDir, "./raftq-data");
  assert.deepEqual(c.joinUrls, []);
  assert.equal(c.id, undefined);
  assert.equal(c.logLevel, "info");
  assert.equal(c.retentionMs, 7 * 24 * 3_600_000);
  assert.equal(c.maxBodyBytes, 1024 * 1024);
});

Deno.test("serve: every flag is parsed", () => {
  const c = parseServeArgs([
    "--id=node-2",
    "--listen",
    "10.0.0.2:7500",
    "--advertise",
    "https://q2.example:7500/",
    "--data",
    "/var/lib/raftq",
    "--join",
    "http://10.0.0.1:7400, http://10.0.0.3:7400",
    "--cluster-secret",
    "0123456789abcdef0123",
    "--token",
    "tok",
    "--tls-cert",
    "c.pem",
    "--tls-key",
    "k.pem",
    "--log-level",
    "debug",
    "--retention",
    "12h",
    "--max-body-bytes",
    "2048",
    "--max-connections",
    "500",
    "--max-clock-offset",
    "250ms",
    "--heartbeat-ms",
    "100",
    "--election-ms",
    "2000",
  ], {});
  assert.deepEqual(c, {
    id: "node-2",
    heartbeatMs: 100,
    electionMs: 2000,
    listenHost: "10.0.0.2",
    listenPort: 7500,
    advertiseUrl: "https://q2.example:7500",
    dataDir: "/var/lib/raftq",
    joinUrls: ["http://10.0.0.1:7400", "http://10.0.0.3:7400"],
    clusterSecret: "0123456789abcdef0123",
    token: "tok",
    tlsCertFile: "c.pem",
    tlsKeyFile: "k.pem",
    logLevel: "debug",
    logFormat: "json",
    retentionMs: 12 * 3_600_000,
    maxBodyBytes: 2048,
    maxConnections: 500,
    maxClockOffsetMs: 250,
    snapshotEveryEntries: 100_000,
    logMemoryBytes: 8 * 1024 * 1024,
    logRetainBytes: 256 * 1024 * 1024,
  });
});

Deno.test("serve: the election timeout defaults to 500 ms or ten heartbeats, whichever is more", () => {
  const lan = parseServeArgs([], {});
  assert.deepEqual([lan.heartbeatMs, lan.electionMs], [50, 500]);
  const wan = parseServeArgs([], { RAFTQ_HEARTBEAT_MS: "200" });
  assert.deepEqual([wan.heartbeatMs, wan.electionMs], [200, 2000]);
});

Deno.test("serve: environment variables fill in, flags win", () => {
  const env = { RAFTQ_LISTEN: "127.0.0.1:9000", RAFTQ_DATA: "/env/data", RAFTQ_TOKEN: "t1" };
  const c = parseServeArgs(["--data", "/flag/data"], env);
  assert.equal(c.listenPort, 9000);
  assert.equal(c.dataDir, "/flag/data");
  assert.equal(c.token, "t1");
});

Deno.test("serve: TLS makes the default advertise URL https, IPv6 hosts are bracketed", () => {
  const c = parseServeArgs(["--listen", "[::1]:7401", "--tls-cert", "c", "--tls-key", "k"], {});
  assert.equal(c.listenHost, "::1");
  assert.equal(c.advertiseUrl, "https://[::1]:7401");
});

Deno.test("serve: bad input is one clear UsageError", () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /unknown flag --bogus/],
    [["--listen", "nowhere"], /HOST:PORT/],
    [["--listen", "127.0.0.1:70000"], /above 65535/],
    [["--listen", "0.0.0.0:7400"], /protected mode/],
    [["--listen", "10.1.2.3:7400", "--cluster-secret", "short"], /shorter than 16 bytes/],
    [["--id", "has space"], /--id/],
    [["--advertise", "ftp://x"], /http/],
    [["--join", "not a url"], /--join/],
    [["--tls-cert", "c.pem"], /go together/],
    [["--log-level", "loud"], /--log-level/],
    [["--retention", "7 days"], /--retention/],
    [["--log-format", "xml"], /--log-format/],
    [["--retention", "5w"], /--retention/],
    [["--max-body-bytes", "12"], /--max-body-bytes/],
    [["--max-connections", "8"], /--max-connections "8" must be an integer from 16/],
    [["--max-clock-offset", "2m"], /--max-clock-offset must be from 1ms to 60s/],
    [["--snapshot-every", "5"], /--snapshot-every/],
    [["--heartbeat-ms", "5"], /--heartbeat-ms "5" must be an integer from 10 to 10000 \(ms\)/],
    [["--election-ms", "200"], /--election-ms 200 must be at least 5 heartbeats \(5 × 50 ms\)/],
    [["--heartbeat-ms", "200", "--election-ms", "600"], /at least 5 heartbeats/],
    [["extra"], /no arguments/],
    [["--listen"], /^serve: --listen needs a value$/],
  ];
  for (const [argv, reason] of cases) {
    assert.throws(() => parseServeArgs(argv, {}), (err: unknown) => {
      assert.ok(err instanceof UsageError, `${argv}: ${err}`);
      assert.match(err.message, reason);
      assert.ok(!err.message.includes("\n"), "one line");
      return true;
    });
  }
});

Deno.test("serve: a non-loopback listen is allowed with a long enough cluster secret", () => {
  const c = parseServeArgs(["--listen", "0.0.0.0:7400"], {
    RAFTQ_CLUSTER_SECRET: "a-long-enough-secret",
  });
  assert.equal(c.listenHost, "0.0.0.0");
});
