/** Exit codes shared with restic, so scripts written for restic keep working. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  partial: 3,
  noRepository: 10,
  locked: 11,
  wrongPassword: 12,
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error a user can act on: a stable code, one line saying what happened,
 * and a remedy saying what to run or check next. The CLI prints these without
 * a stack trace.
 */
export class CairnError extends Error {
  readonly code: string;
  readonly remedy: string;
  readonly exitCode: ExitCodeValue;

  constructor(code: string, message: string, remedy: string, exitCode: ExitCodeValue = ExitCode.failure, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CairnError';
    this.code = code;
    this.remedy = remedy;
    this.exitCode = exitCode;
  }
}

/** True when `err` is a Node system error with the given errno code (ENOENT, EEXIST, ...). */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** A short human description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
