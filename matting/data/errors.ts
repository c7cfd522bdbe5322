/**
 * The one error type of the data pipeline: a file (or folder) that cannot be used, and why.
 * `file` is the path as given by the caller; the message always starts with it so a log line alone
 * says which file to look at.
 */
export class DataError extends Error {
  readonly file: string;
  readonly problem: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'DataError';
    this.file = file;
    this.problem = problem;
  }
}

/** A file left out under `skipBad`, with the reason. */
export interface SkippedFile {
  file: string;
  problem: string;
}

/** Short text of an unknown thrown value, for wrapping a decoder's own error into a DataError. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
