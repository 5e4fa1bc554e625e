/** The growth curves of issue 10: the sidecar with 1, 10 and 50 targets; the webhook with 1 and 20. */
import {
  benchSidecarGrowth,
  SIDECAR_GROWTH_FULL,
  SIDECAR_GROWTH_QUICK,
  type SidecarGrowth,
} from './growth-sidecar.ts';
import { benchWebhookGrowth, type WebhookGrowthPoint } from './growth-webhook.ts';

export interface GrowthBench {
  sidecar: SidecarGrowth;
  webhook: WebhookGrowthPoint[];
}

export async function benchGrowth(
  root: string,
  entry: { label: string; args: string[] },
  quick: boolean,
): Promise<GrowthBench> {
  return {
    sidecar: await benchSidecarGrowth(root, entry, quick ? SIDECAR_GROWTH_QUICK : SIDECAR_GROWTH_FULL),
    webhook: await benchWebhookGrowth(quick),
  };
}
