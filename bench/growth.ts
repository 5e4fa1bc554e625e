/** The growth curves of issue 10: the sidecar with 1, 10 and 50 targets; the webhook with 1 and 20. */
import {
  benchSidecarGrowth,
  SIDECAR_GROWTH_FULL,
  SIDECAR_GROWTH_QUICK,
  type SidecarGrowth,
} from './growth-sidecar.ts';
import { benchWebhookGrowth, type WebhookGrowthPoint } from './growth-webhook.ts';
import type { SidecarEntry } from './sidecar.ts';

export interface GrowthBench {
  sidecar: SidecarGrowth;
  webhook: WebhookGrowthPoint[];
}

/** `entry`: what the sidecar processes run; the image command when the bundle is built. */
export async function benchGrowth(root: string, entry: SidecarEntry, quick: boolean): Promise<GrowthBench> {
  return {
    sidecar: await benchSidecarGrowth(root, entry, quick ? SIDECAR_GROWTH_QUICK : SIDECAR_GROWTH_FULL),
    webhook: await benchWebhookGrowth(quick),
  };
}
