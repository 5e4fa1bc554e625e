/**
 * The shared credentials volume: in memory (credentials never touch the node's disk) and small.
 */

import type { Volume } from './k8s-types.ts';
import { VOLUME_NAME, VOLUME_SIZE_LIMIT } from './names.ts';

export function credentialsVolume(): Volume {
  return { name: VOLUME_NAME, emptyDir: { medium: 'Memory', sizeLimit: VOLUME_SIZE_LIMIT } };
}
