// Test helper: copies one database's queue state into another through a snapshot image.

import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import type { Database } from "../../src/storage/database.ts";
import { schemaVersion } from "../../src/storage/migrations.ts";
import { RaftStorage } from "../../src/storage/raft_storage.ts";
import {
  captureImage,
  completeImage,
  fileSha256,
  imageTrailer,
  installImage,
  readTrailer,
  stateTables,
  verifyImage,
} from "../../src/storage/state_image.ts";

/** Captures `from` as a node would, sends it (trailer and all) and installs it into `to`. */
export function copyStateThroughImage(from: Database, to: Database, index: number): void {
  const path = Deno.makeTempFileSync({ prefix: "raftq-image-", suffix: ".db" });
  Deno.removeSync(path);
  const src = new DatabaseSync(from.path);
  const dst = new DatabaseSync(to.path);
  try {
    const digest = (p: string, bytes: number) => fileSha256(p, bytes, createHash);
    const facts = captureImage(src, path, stateTables, schemaVersion, digest);
    const trailer = imageTrailer(facts.bytes, facts.sha256);
    Deno.writeFileSync(path, trailer, { append: true });
    verifyImage(path, readTrailer(trailer)!, digest);
    // As a node that cannot swap the file in: the image checked and completed, then copied in.
    const image = new DatabaseSync(path);
    try {
      const expected = { version: schemaVersion, index };
      completeImage(image, path, to.path, stateTables, RaftStorage.emptiedByInstall, expected, []);
    } finally {
      image.close();
    }
    installImage(dst, path, stateTables, []);
  } finally {
    src.close();
    dst.close();
    Deno.removeSync(path);
  }
}
