/**
 * Times every STS request an SDK client sends (ours, for AssumeRole and an IRSA identity's
 * AssumeRoleWithWebIdentity; the default chain's own, when it fetches the identity), per action and
 * outcome. It wraps the HTTP
 * round trip and the parsing of the answer, not the resolution of the caller's own credentials before
 * it: for AssumeRole that may be an AssumeRoleWithWebIdentity request, timed on its own. Credential
 * endpoints that are not STS (EKS Pod Identity, IMDS) are not timed here.
 */
import type { STSClient } from '@aws-sdk/client-sts';

/** The STS actions the sidecar sends; anything else is `other`, so the label stays a small set. */
export const STS_ACTIONS = ['AssumeRole', 'AssumeRoleWithWebIdentity', 'GetCallerIdentity', 'other'] as const;
export type StsAction = (typeof STS_ACTIONS)[number];
export type StsOutcome = 'success' | 'error';

export type StsRequestObserver = (action: StsAction, outcome: StsOutcome, durationMs: number) => void;

type StsPlugin = Parameters<STSClient['middlewareStack']['use']>[0];

/** `AssumeRoleCommand` -> `AssumeRole`; an unknown or missing command name -> `other`. */
export function stsAction(commandName: string | undefined): StsAction {
  const action = (commandName ?? '').replace(/Command$/, '');
  return (STS_ACTIONS as readonly string[]).includes(action) ? (action as StsAction) : 'other';
}

/** `now` is a monotonic clock in ms (performance.now in the sidecar). */
export function stsTimingPlugin(observe: StsRequestObserver, now: () => number): StsPlugin {
  return {
    applyToStack: (stack) => {
      stack.add(
        (next, context) => async (args) => {
          const action = stsAction(context.commandName);
          const started = now();
          try {
            const result = await next(args);
            observe(action, 'success', now() - started);
            return result;
          } catch (error) {
            observe(action, 'error', now() - started);
            throw error;
          }
        },
        { step: 'deserialize', priority: 'high', name: 'tokenBrokerStsTiming' },
      );
    },
  };
}
