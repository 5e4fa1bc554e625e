/** An AWS call's failure for the report: the sidecar's error class, a scrubbed message, the usual fix. */
import { classifyError, hintFor, type ErrorClass } from '../../sidecar/src/error-class.ts';
import { describeError } from '../../sidecar/src/scrub.ts';

export interface AwsFailure {
  errorClass: ErrorClass;
  /** `AccessDenied: Not authorized to ...` with anything secret-looking removed. */
  message: string;
  fix: string;
}

export function awsFailure(error: unknown, clockOffsetMs: number | undefined): AwsFailure {
  const errorClass = classifyError(error, { clockOffsetMs });
  const described = describeError(error);
  const code = described.code ?? described.name;
  const message = described.message.startsWith(code) ? described.message : `${code}: ${described.message}`;
  return { errorClass, message, fix: hintFor(errorClass) };
}
