import type { RdsTarget } from '../../../contract/sidecar-config.ts';
import { verifyRdsAuthToken } from '../../emulators/rds-token.ts';
import type { StsEmulator } from '../../emulators/sts-emulator.ts';

/**
 * Checks an RDS token the sidecar wrote for `target`, with the emulators' own verifier (no product code),
 * against the STS emulator that issued the signing credentials, signed for `region`, valid now.
 */
export function verifyTargetToken(token: string, target: RdsTarget, sts: StsEmulator, region: string) {
  return verifyRdsAuthToken({
    token,
    host: target.host,
    port: target.port,
    user: target.user,
    region,
    lookup: sts.lookup,
    now: Date.now(),
  });
}
