// The text of `raftq --help`.

import { VERSION } from "../version.ts";

export const helpText = `raftq ${VERSION} — a replicated job queue in one executable

Usage (with no command, or only flags, raftq serves):
  raftq serve [--id ID] [--listen HOST:PORT] [--advertise URL] [--data DIR]
              [--join URL[,URL...]] [--cluster-secret S] [--token T]
              [--tls-cert FILE --tls-key FILE] [--log-level info|debug|warn|error]
              [--log-format json|text] [--retention 7d] [--max-body-bytes 1048576]
              [--snapshot-every 100000] [--max-connections 4096] [--max-clock-offset 500ms]
              [--log-memory-bytes 8388608] [--log-retain-bytes 268435456]
              [--heartbeat-ms 50] [--election-ms 500]
  raftq status   [--url URL] [--token T] [--json]
  raftq queues   [--url URL] [--limit N] [--cursor C] [--json]   by name, 1,000 a page
  raftq queue    [--url URL] QUEUE [--json]     its counts, whether paused, its limits and config
  raftq pause    [--url URL] QUEUE              claims hand out nothing; enqueues go on
  raftq resume   [--url URL] QUEUE
  raftq jobs     [--url URL] --queue Q [--state S] [--group G] [--limit N] [--cursor C] [--json]
  raftq groups   [--url URL] --queue Q [--limit N] [--cursor C]   groups with ready or leased jobs
  raftq events   [--url URL] --queue Q [--from INDEX] [--limit N] [--json]
                                                every job transition, live, until --limit or ^C
  raftq enqueue  [--url URL] --queue Q [--payload JSON | -] [--delay MS] [--priority N] [--key KEY]
                 [--group G] [--max-attempts N]
  raftq claim    [--url URL] --queue Q [--max N] [--lease MS] [--wait MS] [--worker NAME]
  raftq ack      [--url URL] JOB_ID --lease LEASE [--result JSON]
  raftq nack     [--url URL] JOB_ID --lease LEASE [--error TEXT] [--retry-delay MS]
  raftq members  [--url URL] list | add URL [--id ID] | remove ID
  raftq transfer [--url URL] [--to ID]
  raftq schedules [--url URL] list | set ID --queue Q (--cron EXPR [--tz ZONE] | --every MS)
                 [--payload JSON] [--overlap allow|skip] [--catch-up none|last] | delete ID
  raftq work     [--url URL[,URL...]] --queue Q [--concurrency N] [--lease MS] [--timeout MS]
                 [--release-delay MS] [--worker NAME] -- CMD [ARGS...]
                                                runs CMD once per job: payload on stdin; exit 0
                                                acks (stdout is the result), 75 releases, else nack
  raftq backup   [--url URL] --out FILE         a consistent backup of a running cluster
  raftq restore  --from FILE --data DIR         a data directory that founds a new cluster from it
  raftq recover  --data DIR                     a majority is lost: this member becomes a cluster
  raftq --help | --version

Every serve flag also reads an environment variable: RAFTQ_ID, RAFTQ_LISTEN, RAFTQ_ADVERTISE,
RAFTQ_DATA, RAFTQ_JOIN, RAFTQ_CLUSTER_SECRET, RAFTQ_TOKEN, RAFTQ_TLS_CERT, RAFTQ_TLS_KEY,
RAFTQ_LOG_LEVEL, RAFTQ_LOG_FORMAT, RAFTQ_RETENTION, RAFTQ_MAX_BODY_BYTES, RAFTQ_SNAPSHOT_EVERY,
RAFTQ_MAX_CONNECTIONS, RAFTQ_MAX_CLOCK_OFFSET, RAFTQ_LOG_MEMORY_BYTES, RAFTQ_LOG_RETAIN_BYTES,
RAFTQ_HEARTBEAT_MS, RAFTQ_ELECTION_MS.
Client commands read RAFTQ_URL and RAFTQ_TOKEN. Flags win.

Defaults: --listen 127.0.0.1:7400, --data ./raftq-data, --advertise http://<listen>.
Listening on a non-loopback address needs --cluster-secret (at least 16 bytes).
`;
