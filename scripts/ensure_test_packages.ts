// Before the tests: installs the Debian packages the tests drive when they are missing —
// chromium (the status page test), faketime (the clock tests) and wrk (the bench's load test).

const packages: { name: string; path: string; forWhat: string }[] = [
  { name: "chromium", path: "/usr/bin/chromium", forWhat: "the status page test" },
  {
    name: "faketime",
    path: "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    forWhat: "the clock tests",
  },
  { name: "wrk", path: "/usr/bin/wrk", forWhat: "the benchmark's load generator test" },
];

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const missing = [];
for (const p of packages) if (!(await exists(p.path))) missing.push(p);
if (missing.length > 0) {
  const names = missing.map((p) => p.name);
  const why = missing.map((p) => `${p.name} for ${p.forWhat}`).join(", ");
  if (Deno.uid() === 0 && (await exists("/usr/bin/apt-get"))) {
    console.error(`test: installing Debian's ${why}`);
    for (const args of [["update", "-qq"], ["install", "-y", "-qq", ...names]]) {
      const r = await new Deno.Command("apt-get", { args, stdout: "null", stderr: "inherit" })
        .output();
      if (!r.success) {
        console.error(
          `test: apt-get ${args.join(" ")} failed; the tests that need them will say so`,
        );
        break;
      }
    }
  } else {
    console.error(`test: some tests need Debian's ${why} (apt-get install ${names.join(" ")})`);
  }
}
