// Builds src/client/ as an npm package in dist/npm/ (or --out DIR): ESM JavaScript, types, a manifest.

import ts from "typescript";
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { VERSION } from "../src/version.ts";

const { values } = parseArgs({ args: Deno.args, options: { out: { type: "string" } } });
const outDir = resolve(values.out ?? "dist/npm");
const sourceDir = resolve("src/client");

const options: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ES2022,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
  strict: true,
  declaration: true,
  // Our sources import "./x.ts"; the package's files import "./x.js".
  rewriteRelativeImportExtensions: true,
  allowImportingTsExtensions: true,
  outDir,
  rootDir: sourceDir,
  skipLibCheck: true,
  newLine: ts.NewLineKind.LineFeed,
};

const manifest = {
  name: "@raftq/client",
  version: VERSION,
  description: "Client and worker runtime for raftq, a replicated job queue",
  type: "module",
  main: "./mod.js",
  types: "./mod.d.ts",
  exports: { ".": { types: "./mod.d.ts", import: "./mod.js" } },
  engines: { node: ">=20.3" },
  sideEffects: false,
  files: ["*.js", "*.d.ts", "README.md"],
};

const readme = `# @raftq/client

The client library and worker runtime of raftq: \`Client\` (a method per route, leader following,
safe retries, typed errors) and \`Worker\` (claims, lease renewal, graceful stop). It uses \`fetch\`
only and has no dependencies; it runs on Node.js ≥ 20.3, Deno and Bun. See raftq's README.
`;

function build(): void {
  const roots = [...Deno.readDirSync(sourceDir)]
    .filter((e) => e.isFile && e.name.endsWith(".ts"))
    .map((e) => join(sourceDir, e.name));
  const program = ts.createProgram(roots, options);
  const emitted = program.emit();
  const problems = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (problems.length > 0 || emitted.emitSkipped) {
    const host = {
      getCanonicalFileName: (f: string) => f,
      getCurrentDirectory: () => Deno.cwd(),
      getNewLine: () => "\n",
    };
    console.error(ts.formatDiagnostics(problems, host));
    Deno.exit(1);
  }
  rewriteDeclarationImports();
  Deno.writeTextFileSync(join(outDir, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  Deno.writeTextFileSync(join(outDir, "README.md"), readme);
  console.log(`npm: @raftq/client ${VERSION} in ${outDir} (${roots.length} modules)`);
}

/** Declarations keep the sources' "./x.ts" specifiers; a package's point at "./x.js". */
function rewriteDeclarationImports(): void {
  for (const e of Deno.readDirSync(outDir)) {
    if (!e.name.endsWith(".d.ts")) continue;
    const path = join(outDir, e.name);
    const text = Deno.readTextFileSync(path);
    Deno.writeTextFileSync(path, text.replace(/(from\s+"\.\/[\w.-]+)\.ts"/g, '$1.js"'));
  }
}

try {
  Deno.removeSync(outDir, { recursive: true });
} catch {
  // a first build
}
build();
