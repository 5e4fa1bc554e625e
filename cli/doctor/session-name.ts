/** The RoleSessionName the sidecar uses (`tb-<namespace>-<pod>`), from the downward-API env. */
import { POD_NAME_ENV, POD_NAMESPACE_ENV } from '../../contract/sidecar-config.ts';
import { roleSessionName } from '../../sidecar/src/identity.ts';
import type { Env } from './doctor-deps.ts';

export function sessionNameOf(env: Env): string {
  return roleSessionName(env[POD_NAMESPACE_ENV] ?? 'unknown', env[POD_NAME_ENV] ?? 'doctor');
}
