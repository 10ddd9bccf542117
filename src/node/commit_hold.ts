// Appends that carry nothing but a commit index, held a few milliseconds for an append with
// entries to carry it instead.

import type { Message, NodeId } from "../raft/mod.ts";
import type { PeerSender, Scheduler } from "./ports.ts";

/** How long a commit-only append waits for an append with entries to the same peer. */
export const commitHoldMs = 5;

/**
 * A leader tells its followers of each commit at once (an empty append), then sends the next
 * entries, which carry the commit again: at one request at a time that is two frames to each
 * follower and two answers back per request. Held here for `commitHoldMs`, the empty append is
 * dropped when an append with entries to that peer follows (it carries a commit at least as new:
 * messages leave in the order the core made them), else sent when the hold ends. A follower then
 * learns an idle leader's last commit at most `commitHoldMs` later; nothing waits on that but its
 * own apply (the leader answers its clients after its own).
 */
export class CommitHold implements PeerSender {
  #held = new Map<NodeId, Message>();
  #armed = false;
  #stopped = false;

  constructor(readonly peers: PeerSender, readonly scheduler: Scheduler) {}

  send(messages: readonly Message[]): void {
    const out: Message[] = [];
    for (const m of messages) {
      if (m.type === "append" && m.entries.length === 0) {
        this.#held.set(m.to, m);
        continue;
      }
      if (m.type === "append") this.#held.delete(m.to);
      out.push(m);
    }
    if (out.length > 0) this.peers.send(out);
    if (this.#held.size > 0 && !this.#armed) {
      this.#armed = true;
      this.scheduler.after(commitHoldMs, () => this.#release());
    }
  }

  /** The node stops: what is held is dropped (Raft resends what matters). */
  stop(): void {
    this.#stopped = true;
    this.#held.clear();
  }

  #release(): void {
    this.#armed = false;
    if (this.#stopped || this.#held.size === 0) return;
    const held = [...this.#held.values()];
    this.#held.clear();
    this.peers.send(held);
  }
}
