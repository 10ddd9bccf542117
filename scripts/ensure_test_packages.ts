// Before the tests: installs the Debian packages the tests drive when they are missing —
// chromium (the status page test), faketime (the clock tests) and wrk (the bench's load test).

import { aptInstall, fileExists } from "./debian.ts";

const packages: { name: string; path: string; forWhat: string }[] = [
  { name: "chromium", path: "/usr/bin/chromium", forWhat: "the status page test" },
  {
    name: "faketime",
    path: "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    forWhat: "the clock tests",
  },
  { name: "wrk", path: "/usr/bin/wrk", forWhat: "the benchmark's load generator test" },
];

const missing = [];
for (const p of packages) if (!(await fileExists(p.path))) missing.push(p);
if (missing.length > 0) {
  const names = missing.map((p) => p.name);
  const why = missing.map((p) => `${p.name} for ${p.forWhat}`).join(", ");
  if (Deno.uid() === 0 && (await fileExists("/usr/bin/apt-get"))) {
    console.error(`test: installing Debian's ${why}`);
    const failed = await aptInstall(names);
    if (failed) console.error(`test: ${failed} failed; the tests that need them will say so`);
  } else {
    console.error(`test: some tests need Debian's ${why} (apt-get install ${names.join(" ")})`);
  }
}
