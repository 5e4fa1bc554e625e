/** Builds a sidecar config + env for tests, in a fresh temporary directory. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeSidecarConfig, type SidecarConfig, type Target } from '../../../contract/sidecar-config.ts';
import { parseSidecarOptions, type SidecarOptions } from '../../../sidecar/src/options.ts';
import type { ListenOverrides } from '../../../sidecar/src/main.ts';
import { SAMPLE_POD, sidecarConfig } from '../../fakes/sidecar-config.ts';

export const LOOPBACK_EPHEMERAL: ListenOverrides = {
  apiHost: '127.0.0.1',
  publicHost: '127.0.0.1',
  apiPort: 0,
  healthPort: 0,
  metricsPort: 0,
};

export interface TestSidecarEnv {
  dir: string;
  config: SidecarConfig;
  env: Record<string, string>;
  options(argv?: string[]): SidecarOptions;
  cleanup(): Promise<void>;
}

export async function testSidecarEnv(targets: Target[], marginSeconds = 120): Promise<TestSidecarEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'tb-sidecar-'));
  const config = sidecarConfig({ directory: dir, refresh: { marginSeconds }, targets });
  const env = {
    TOKEN_BROKER_CONFIG: serializeSidecarConfig(config),
    TOKEN_BROKER_POD_NAME: SAMPLE_POD.name,
    TOKEN_BROKER_POD_NAMESPACE: SAMPLE_POD.namespace,
  };
  return {
    dir,
    config,
    env,
    options: (argv = []) => parseSidecarOptions(argv, env),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Collects every byte a pino logger writes. */
export class LogCapture {
  readonly chunks: string[] = [];
  write(chunk: string): void {
    this.chunks.push(chunk);
  }
  get text(): string {
    return this.chunks.join('');
  }
  lines(): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}
