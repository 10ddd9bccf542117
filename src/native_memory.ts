// Gives the C allocator's free memory back to the system once a node goes quiet.

/** Returns the C heap's free pages to the system, off the event loop. */
export type Trim = () => Promise<void>;

/**
 * glibc's malloc, once it has freed a large block (a batch's body, a peer frame: hundreds of KB),
 * serves later ones from its heaps and keeps what they free there. A leader that took a burst of
 * batch writes over 32 connections sat at 132 MiB idle, 109 once trimmed (docs/benchmarks.md,
 * twenty-first session). Trimming while writes flow only faults the pages back in (a trim every
 * second or two cost fills 2–28% of their rate), so this trims once a burst is over: at the first
 * check that finds the log where the one before left it, after at least `minEntries` new entries
 * (a trickle of small ones, the leader's ticks say, is not a burst), and twice more as the pause
 * goes on (see trimAtQuietChecks). Writes that never pause, however few a check, keep it from
 * trimming: such a node keeps what it kept before this existed.
 */
export class QuietTrim {
  /**
   * The quiet checks after a burst that trim: the first, then two more once V8's memory reducer
   * has collected the burst's garbage, seconds into the pause: a buffer's memory returns to glibc
   * only when V8 collects the buffer, so a trim before that misses it.
   */
  static readonly trimAtQuietChecks: readonly number[] = [1, 5, 15];

  #timer: ReturnType<typeof setInterval> | undefined;
  #lastIndex = 0;
  /** The log index where the last burst was counted from (or the start). */
  #burstFrom = 0;
  /** Quiet checks since the last burst ended; -1: its trims are done. */
  #quietChecks = -1;
  #inFlight: Promise<void> | null = null;

  constructor(
    readonly trim: Trim,
    /** The node's last log index: it moves with every write, here or replicated. */
    readonly logIndex: () => number,
    readonly checkEveryMs = 2_000,
    readonly minEntries = 64,
  ) {}

  /**
   * A start counts as a burst: loading the program leaves memory free in glibc's heaps — some 35
   * MiB where Deno first analyses a new build's bundle, kept for the node's life until a trim
   * (docs/benchmarks.md, twenty-second session).
   */
  start(): void {
    this.#lastIndex = this.#burstFrom = this.logIndex();
    this.#quietChecks = 0;
    this.#timer = setInterval(() => this.check(), this.checkEveryMs);
  }

  /** One check: a burst (re)starts the count of quiet checks; some of those trim. */
  check(): void {
    const index = this.logIndex();
    const moving = index !== this.#lastIndex;
    this.#lastIndex = index;
    // (a follower's log can be cut back to the leader's: count from there)
    this.#burstFrom = Math.min(this.#burstFrom, index);
    if (moving) {
      if (index - this.#burstFrom < this.minEntries) return;
      this.#burstFrom = index;
      this.#quietChecks = 0;
      return;
    }
    if (this.#quietChecks < 0) return;
    const quiet = ++this.#quietChecks;
    const at = QuietTrim.trimAtQuietChecks;
    if (quiet >= at[at.length - 1]) this.#quietChecks = -1;
    if (!at.includes(quiet) || this.#inFlight) return;
    // (a failed trim frees nothing and harms nothing: the next one tries again)
    this.#inFlight = this.trim().catch(() => {}).finally(() => (this.#inFlight = null));
  }

  /** Resolves once no trim is running (the one in flight, if any, has returned). */
  async settled(): Promise<void> {
    while (this.#inFlight) await this.#inFlight;
  }

  /** Stops checking; resolves once a trim in flight has returned. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.settled();
  }
}

/**
 * glibc's `malloc_trim(0)` through FFI (run on a runtime thread, so the event loop goes on), or
 * null where there is none: not Linux, or a C library without it (musl).
 */
export function glibcTrim(): { trim: Trim; close(): void } | null {
  if (Deno.build.os !== "linux") return null;
  try {
    const lib = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32", nonblocking: true },
    });
    return {
      trim: async () => {
        await lib.symbols.malloc_trim(0n);
      },
      close: () => lib.close(),
    };
  } catch {
    return null;
  }
}

/** A running QuietTrim over glibc's malloc_trim, or null where there is none; stop() ends it. */
export function startQuietTrim(logIndex: () => number): { stop(): Promise<void> } | null {
  const glibc = glibcTrim();
  if (!glibc) return null;
  const quiet = new QuietTrim(glibc.trim, logIndex);
  quiet.start();
  return {
    stop: async () => {
      await quiet.stop();
      glibc.close();
    },
  };
}
