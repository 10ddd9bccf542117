// A private CA and a leaf certificate for 127.0.0.1 signed by it, made with openssl for TLS tests.

/**
 * Writes `ca.pem`, `cert.pem` and `key.pem` into `dir` (rustls refuses a CA certificate used as
 * the server's own, so the leaf is signed by a CA of its own) and returns their paths.
 */
export async function makeCertificates(
  dir: string,
): Promise<{ ca: string; cert: string; key: string }> {
  const ca = `${dir}/ca.pem`;
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
  );
  const steps = [
    `req -x509 -newkey rsa:2048 -nodes -keyout ${dir}/ca.key -out ${ca} -days 1`,
    `req -newkey rsa:2048 -nodes -keyout ${key} -out ${dir}/leaf.csr -subj /CN=127.0.0.1`,
    `x509 -req -in ${dir}/leaf.csr -CA ${ca} -CAkey ${dir}/ca.key -CAcreateserial -out ${cert} ` +
    `-days 1 -extfile ${dir}/leaf.ext`,
  ];
  for (const step of steps) {
    const args = step.split(" ");
    if (args[0] === "req" && args[1] === "-x509") args.push("-subj", "/CN=raftq test CA");
    const r = await new Deno.Command("openssl", { args, stdout: "null", stderr: "null" }).output();
    if (!r.success) throw new Error(`openssl ${step} failed`);
  }
  return { ca, cert, key };
}
