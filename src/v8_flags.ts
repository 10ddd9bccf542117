// The V8 flags a node runs with: a heap sized for a long-running server that must stay small.

/**
 * V8's defaults suit a short script: a young generation of up to 3 × 16 MiB and an old one that
 * grows by up to 4× between full collections, so a burst of writes (a batch fill) leaves a node at
 * 250–300 MiB resident though it holds ~30 MiB live. Semi-spaces of 8 MiB and old-space growth of
 * at most 100% per collection keep it under 180 MiB (README "Memory" has the figures); growth of
 * 50% kept it some 15 MiB lower but cost a batch fill 10–20% of its rate in collections. Flags
 * only, no limit: a node that needs more heap still gets it.
 */
export const nodeV8Flags = ["--max-semi-space-size=8", "--heap-growing-percent=100"] as const;

/** The `deno run` / `deno compile` argument that sets them. */
export const v8FlagsArgument = `--v8-flags=${nodeV8Flags.join(",")}`;
