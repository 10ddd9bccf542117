// The peer handshake's cryptography: fresh nonces and HMACs over the cluster secret.

import { createHmac, timingSafeEqual } from "node:crypto";

const encoder = new TextEncoder();

/** The HMAC key's bytes: the cluster secret, or a fixed stand-in on a secret-less loopback node. */
function keyMaterial(secret: string): string {
  return secret.length > 0 ? secret : "\u0000raftq-no-secret";
}

export function newNonce(): string {
  return [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** Imports the cluster secret once as an HMAC-SHA-256 key. */
export async function hmacKey(secret: string): Promise<CryptoKey> {
  // Without a secret (loopback-only clusters) the key is empty: the handshake still binds
  // cluster and node ids, but proves nothing about who may join.
  return await crypto.subtle.importKey(
    "raw",
    encoder.encode(keyMaterial(secret)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

function toHex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[0-9a-f]*$/.test(hex) || hex.length % 2 !== 0) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The transcript each side signs: role, cluster, both ids and both nonces, in its own order. */
export function transcript(
  role: "client" | "server" | "join",
  clusterId: string,
  ownId: string,
  otherId: string,
  ownNonce: string,
  otherNonce: string,
): string {
  return ["raftq/1", role, clusterId, ownId, otherId, ownNonce, otherNonce].join("|");
}

export async function sign(key: CryptoKey, text: string): Promise<string> {
  return toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(text)));
}

/** Constant-time verification (crypto.subtle.verify). */
export async function verify(key: CryptoKey, text: string, macHex: string): Promise<boolean> {
  const mac = fromHex(macHex);
  if (!mac) return false;
  return await crypto.subtle.verify("HMAC", key, mac, encoder.encode(text));
}

/**
 * The MAC a forwarding member puts on a request: over the cluster, itself, and exactly the request
 * it passes on. Synchronous (node:crypto): it is on every forwarded request's path, where a
 * WebCrypto round trip cost a follower a quarter of its throughput.
 */
export function forwardMac(
  secret: string,
  clusterId: string,
  fromId: string,
  method: string,
  target: string,
): string {
  return createHmac("sha256", keyMaterial(secret))
    .update(["raftq/1", "forward", clusterId, fromId, method, target].join("|"))
    .digest("hex");
}

/** Compares two hex MACs in constant time. */
export function sameMac(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(encoder.encode(a), encoder.encode(b));
}
