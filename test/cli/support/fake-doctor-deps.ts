/**
 * Doctor deps where nothing touches the network or the disk: every part a plain object a test
 * overrides. The defaults describe a healthy pod; parts a test does not expect to be used throw.
 */
import type { Target } from '../../../contract/sidecar-config.ts';
import type { DoctorDeps, DoctorFs, FileFacts } from '../../../cli/doctor/doctor-deps.ts';
import { sidecarConfig } from '../../fakes/sidecar-config.ts';

export const FAKE_NOW = Date.parse('2026-12-01T10:00:00Z');

const unexpected = (what: string) => () => Promise.reject(new Error(`unexpected call: ${what}`));

export function fileFacts(overrides: Partial<FileFacts> = {}): FileFacts {
  return { uid: 1000, gid: 1000, mode: 0o600, isDirectory: false, isFile: true, ...overrides };
}

/** A directory listing: path -> facts; `dir` itself must be in it. */
export function fakeFs(entries: Record<string, FileFacts>, overrides: Partial<DoctorFs> = {}): DoctorFs {
  return {
    readFile: unexpected('readFile'),
    stat: (path) => {
      const facts = entries[path];
      return facts === undefined
        ? Promise.reject(Object.assign(new Error('no such file'), { code: 'ENOENT' }))
        : Promise.resolve(facts);
    },
    readdir: (dir) =>
      Promise.resolve(
        Object.keys(entries)
          .filter((p) => p.startsWith(`${dir}/`))
          .map((p) => p.slice(dir.length + 1)),
      ),
    probeWrite: () => Promise.resolve(),
    ...overrides,
  };
}

export function fakeDoctorDeps(overrides: Partial<DoctorDeps> = {}, targets?: Target[]): DoctorDeps {
  return {
    env: {},
    config: sidecarConfig(targets === undefined ? {} : { targets }),
    now: () => FAKE_NOW,
    uid: 1000,
    fs: fakeFs({}),
    aws: {
      stsEndpoint: 'https://sts.eu-west-1.amazonaws.com (regional)',
      baseIdentity: unexpected('baseIdentity'),
      callerIdentity: unexpected('callerIdentity'),
      assumeRole: unexpected('assumeRole'),
      stsOffsetMs: () => undefined,
    },
    dns: { lookup: unexpected('lookup'), resolveSrv: unexpected('resolveSrv') },
    connect: unexpected('connect'),
    signRds: unexpected('signRds'),
    ...overrides,
  };
}
