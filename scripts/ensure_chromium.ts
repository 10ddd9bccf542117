// Before the tests: installs Debian's chromium (for the status page test) when it is missing.

const chromium = "/usr/bin/chromium";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

if (!(await exists(chromium))) {
  if (Deno.uid() === 0 && (await exists("/usr/bin/apt-get"))) {
    console.error("test: installing chromium from Debian's packages for the status page test");
    for (const args of [["update", "-qq"], ["install", "-y", "-qq", "chromium"]]) {
      const r = await new Deno.Command("apt-get", { args, stdout: "null", stderr: "inherit" })
        .output();
      if (!r.success) {
        console.error(`test: apt-get ${args.join(" ")} failed; the status page test will say so`);
        break;
      }
    }
  } else {
    console.error(
      "test: the status page test needs Debian's chromium (apt-get install chromium); it will fail without it",
    );
  }
}
