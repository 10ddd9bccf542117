// A consistent copy of the database file, made on a worker thread so the event loop never waits.

/**
 * The worker: its own read-only connection runs `VACUUM INTO`, which reads one consistent
 * snapshot of the file (WAL mode lets the node's connection keep writing meanwhile) and writes a
 * compact copy. The worker is made from this source text, so it needs no file of its own and
 * works the same from the source, the bundle and the compiled executable.
 */
const workerSource = `
import { DatabaseSync } from "node:sqlite";
self.onmessage = (e) => {
  const { src, dest } = e.data;
  try {
    const db = new DatabaseSync(src, { readOnly: true });
    try {
      db.exec("PRAGMA busy_timeout = 5000");
      db.prepare("VACUUM INTO ?").run(dest);
    } finally {
      db.close();
    }
    self.postMessage({ ok: true });
  } catch (err) {
    self.postMessage({ ok: false, error: String(err && err.message || err) });
  }
};
`;

let workerUrl: string | null = null;

/** Copies the SQLite file at `src` (a consistent image at one moment) to `dest`, off the loop. */
export async function copyDatabase(src: string, dest: string): Promise<void> {
  workerUrl ??= URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
  const worker = new Worker(workerUrl, { type: "module" });
  try {
    const reply = await new Promise<{ ok: boolean; error?: string }>((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(e.message));
      };
      worker.postMessage({ src, dest });
    });
    if (!reply.ok) throw new Error(`the copy of ${src} failed: ${reply.error}`);
  } finally {
    worker.terminate();
  }
}
