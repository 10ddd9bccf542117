// `deno task bundle`: builds dist/raftq.js, one self-contained file that runs with `deno run`.

const output = "dist/raftq.js";
const cmd = new Deno.Command(Deno.execPath(), {
  args: ["bundle", "--platform", "deno", "--quiet", "-o", output, "src/main.ts"],
  stdout: "inherit",
  stderr: "inherit",
});
const { code } = await cmd.output();
if (code !== 0) {
  console.error(`deno task bundle: deno bundle failed (exit ${code})`);
  Deno.exit(code);
}
const { size } = await Deno.stat(output);
console.log(
  `${output} (${(size / 1024).toFixed(1)} KiB): run it with deno run -A ${output} --help`,
);
