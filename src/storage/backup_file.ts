// The backup format: a header line, a SQLite image, a SHA-256 trailer; written and verified here.

import { createHash } from "node:crypto";

/** What a backup says about itself (its header line). */
export interface BackupMeta {
  format: 1;
  clusterId: string;
  /** The queue's state in the image is at this log index: it holds every write applied by then. */
  appliedIndex: number;
  /** The node that made it. */
  nodeId: string;
  createdAt: string;
  /** Bytes of the SQLite image that follow the header. */
  imageBytes: number;
}

const magic = "raftq-backup ";
const maxHeaderBytes = 4096;
const encoder = new TextEncoder();

/**
 * The backup as a stream: `raftq-backup <json meta>\n`, the image's bytes, then
 * `\nsha256 <hex>\n` over everything before it. Reads the image file in 1 MiB pieces.
 */
export function backupStream(
  imagePath: string,
  meta: BackupMeta,
  /** Called once the stream is done with the image (read whole, cancelled, or failed). */
  done: () => void = () => {},
): ReadableStream<Uint8Array> {
  const hash = createHash("sha256");
  let file: Deno.FsFile | null = null;
  let phase: "header" | "image" | "done" = "header";
  const buf = new Uint8Array(1024 * 1024);
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      if (phase === "header") {
        const header = encoder.encode(`${magic}${JSON.stringify(meta)}\n`);
        hash.update(header);
        file = await Deno.open(imagePath, { read: true });
        phase = "image";
        return ctl.enqueue(header);
      }
      if (phase === "image") {
        const n = await file!.read(buf);
        if (n !== null) {
          const chunk = buf.slice(0, n);
          hash.update(chunk);
          return ctl.enqueue(chunk);
        }
        file!.close();
        phase = "done";
        done();
        ctl.enqueue(encoder.encode(`\nsha256 ${hash.digest("hex")}\n`));
        return ctl.close();
      }
    },
    cancel() {
      if (phase !== "done") file?.close();
      phase = "done";
      done();
    },
  });
}

/** A backup file that is truncated, damaged, or not a raftq backup. */
export class BackupError extends Error {}

function parseMeta(line: string): BackupMeta {
  if (!line.startsWith(magic)) throw new BackupError("it is not a raftq backup");
  let m: Partial<BackupMeta>;
  try {
    m = JSON.parse(line.slice(magic.length));
  } catch {
    throw new BackupError("its header is damaged");
  }
  if (
    m?.format !== 1 || typeof m.clusterId !== "string" || !Number.isSafeInteger(m.appliedIndex) ||
    !Number.isSafeInteger(m.imageBytes) || (m.imageBytes ?? -1) < 0
  ) {
    throw new BackupError("its header is not one this raftq reads (format 1)");
  }
  return m as BackupMeta;
}

/**
 * Checks a backup file (header, length, checksum) and writes its SQLite image to `imagePath`;
 * returns its header. A truncated, altered or foreign file is a BackupError saying which.
 */
export async function extractBackup(path: string, imagePath: string): Promise<BackupMeta> {
  const file = await Deno.open(path, { read: true });
  const out = await Deno.open(imagePath, { write: true, createNew: true });
  try {
    const size = (await file.stat()).size;
    const head = new Uint8Array(Math.min(maxHeaderBytes, size));
    await readFull(file, head);
    const newline = head.indexOf(0x0a);
    if (newline < 0) throw new BackupError("it is not a raftq backup (no header line)");
    const meta = parseMeta(new TextDecoder().decode(head.subarray(0, newline)));
    const headerBytes = newline + 1;
    const trailerBytes = size - headerBytes - meta.imageBytes;
    if (trailerBytes !== "\nsha256 ".length + 64 + 1) {
      throw new BackupError(`it is truncated or padded (${size} bytes; the header promises more)`);
    }
    const hash = createHash("sha256").update(head.subarray(0, headerBytes));
    await file.seek(headerBytes, Deno.SeekMode.Start);
    const buf = new Uint8Array(1024 * 1024);
    for (let left = meta.imageBytes; left > 0;) {
      const chunk = buf.subarray(0, Math.min(buf.length, left));
      await readFull(file, chunk);
      hash.update(chunk);
      await out.write(chunk);
      left -= chunk.length;
    }
    const trailer = new Uint8Array(trailerBytes);
    await readFull(file, trailer);
    const expected = `\nsha256 ${hash.digest("hex")}\n`;
    if (new TextDecoder().decode(trailer) !== expected) {
      throw new BackupError("its checksum does not match: the file is damaged");
    }
    await out.sync();
    return meta;
  } finally {
    file.close();
    out.close();
  }
}

async function readFull(file: Deno.FsFile, into: Uint8Array): Promise<void> {
  for (let at = 0; at < into.length;) {
    const n = await file.read(into.subarray(at));
    if (n === null) throw new BackupError("it is truncated");
    at += n;
  }
}
