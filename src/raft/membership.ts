// Membership values and one-at-a-time changes to them; every function returns a new value.

import type { ConfChange, Member, Membership, NodeId } from "./types.ts";

export const emptyMembership: Membership = { members: [] };

export function voterIds(membership: Membership): NodeId[] {
  return membership.members.filter((m) => m.voter).map((m) => m.id);
}

export function memberIds(membership: Membership): NodeId[] {
  return membership.members.map((m) => m.id);
}

export function findMember(membership: Membership, id: NodeId): Member | undefined {
  return membership.members.find((m) => m.id === id);
}

export function isVoter(membership: Membership, id: NodeId): boolean {
  return findMember(membership, id)?.voter === true;
}

/** Why `change` cannot apply to `membership`, or null when it can. */
export function confChangeError(membership: Membership, change: ConfChange): string | null {
  const member = findMember(membership, change.id);
  switch (change.type) {
    case "addLearner":
    case "addVoter":
      return member ? `node ${change.id} is already a member` : null;
    case "promote":
      if (!member) return `node ${change.id} is not a member`;
      return member.voter ? `node ${change.id} is already a voter` : null;
    case "remove":
      if (!member) return `node ${change.id} is not a member`;
      if (member.voter && voterIds(membership).length === 1) {
        return "cannot remove the last voter";
      }
      return null;
  }
}

/** The membership after `change`; a change that cannot apply leaves it as it is. */
export function applyConfChange(membership: Membership, change: ConfChange): Membership {
  if (confChangeError(membership, change) !== null) return membership;
  const others = membership.members.filter((m) => m.id !== change.id);
  const existing = findMember(membership, change.id);
  let members: Member[];
  switch (change.type) {
    case "addLearner":
      members = [...others, { id: change.id, url: change.url, voter: false }];
      break;
    case "addVoter":
      members = [...others, { id: change.id, url: change.url, voter: true }];
      break;
    case "promote":
      members = [...others, { ...existing!, voter: true }];
      break;
    case "remove":
      members = others;
      break;
  }
  members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { members };
}
