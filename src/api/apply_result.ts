// Turns the state machine's answer to a command into the expected result or an RaftqError.

import { RaftqError } from "../errors.ts";
import type { ApplyResult } from "../queue/results.ts";

export function expectResult<T extends ApplyResult["type"]>(
  result: ApplyResult,
  type: T,
): Extract<ApplyResult, { type: T }> {
  if (result.type === "error") {
    // An entry no replica could apply is refused like a bad request: it changed nothing.
    const code = result.code === "invalid_command" || result.code === "apply_failed"
      ? "invalid_request"
      : result.code;
    // A full queue may have room in a moment: say when to try again.
    throw new RaftqError(code, result.message, code === "queue_full" ? 1 : undefined);
  }
  if (result.type !== type) {
    throw new RaftqError("unavailable", `Unexpected answer ${result.type} to a ${type} command`, 1);
  }
  return result as Extract<ApplyResult, { type: T }>;
}
