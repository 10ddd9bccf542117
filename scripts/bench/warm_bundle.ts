// Has Deno load a bundle once before a bench's nodes start from it: its first load costs memory.

/**
 * Deno analyses a script it has not loaded before (a new build) and caches what it found in
 * DENO_DIR. That first analysis of the 2 MiB bundle leaves the process ~35 MiB more resident at a
 * fill's peak (201–207 MiB against 167–175: docs/benchmarks.md, twenty-second session), on the
 * first node started from the file only. Users start a node many times per build; a bench
 * measures those starts, so it loads the bundle once first (`--version`: no node started).
 */
export async function warmBundle(path: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", path, "--version"],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`${path} --version failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}
