// Debian's packages for the tests and benches: whether a file is there, and apt-get to bring it.

/** Whether `path` exists. */
export async function fileExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * `apt-get update`, then `apt-get install` of `names` (apt's own errors on stderr). The failed
 * step's command line, or null when both succeeded.
 */
export async function aptInstall(names: readonly string[]): Promise<string | null> {
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", ...names]]) {
    const r = await new Deno.Command("apt-get", { args, stdout: "null", stderr: "inherit" })
      .output().catch(() => null);
    if (!r?.success) return `apt-get ${args.join(" ")}`;
  }
  return null;
}
