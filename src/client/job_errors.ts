// What a Worker's handler throws to say more than "failed": give up now, or try again later.

/** Makes the job dead at once (a final nack), whatever its attempts left: bad input, say. */
export class FinalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FinalError";
  }
}

/** Gives the job back without using an attempt, to be claimed again after `delayMs`. */
export class RetryLater extends Error {
  constructor(readonly delayMs: number, message = `retry in ${delayMs} ms`) {
    super(message);
    this.name = "RetryLater";
  }
}
