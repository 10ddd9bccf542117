// Gives the C allocator's free memory back to the system once a node goes quiet.

/** Returns the C heap's free pages to the system, off the event loop. */
export type Trim = () => Promise<void>;

/**
 * glibc's malloc, once it has freed a large block (a batch's body, a peer frame: hundreds of KB),
 * serves later ones from its heaps and keeps what they free there. A leader that took a burst of
 * batch writes over 32 connections sat at 132 MiB idle, 109 once trimmed (docs/benchmarks.md,
 * twenty-first session). Trimming while writes flow only faults the pages back in (a trim every
 * second or two cost fills 2–28% of their rate), so this trims once a burst is over: when a whole
 * check passes without a new log entry, once for each such pause.
 */
export class QuietTrim {
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastIndex = 0;
  #dirty = false;
  #inFlight: Promise<void> | null = null;
  /** Trims begun (tests and the status read it). */
  trims = 0;

  constructor(
    readonly trim: Trim,
    /** The node's last log index: it moves with every write, here or replicated. */
    readonly logIndex: () => number,
    readonly checkEveryMs = 2_000,
  ) {}

  start(): void {
    this.#lastIndex = this.logIndex();
    this.#timer = setInterval(() => this.check(), this.checkEveryMs);
  }

  /** One check: writes since the last one mark a burst; the first check without any ends it. */
  check(): void {
    const index = this.logIndex();
    if (index !== this.#lastIndex) {
      this.#lastIndex = index;
      this.#dirty = true;
      return;
    }
    if (!this.#dirty || this.#inFlight) return;
    this.#dirty = false;
    this.trims++;
    // (a failed trim frees nothing and harms nothing: the next pause tries again)
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
