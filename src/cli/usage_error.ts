// The error a person can cause on the command line: printed as one line, exit code 2.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
