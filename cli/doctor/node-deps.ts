/** The doctor's real I/O: Node's file system, DNS and sockets, the AWS SDK and the RDS signer. */
import { promises as dns } from 'node:dns';
import * as fsp from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { SidecarConfig } from '../../contract/sidecar-config.ts';
import { tempFileName } from '../../sidecar/src/files.ts';
import { sdkRdsSigner } from '../../sidecar/src/rds-token.ts';
import { createAwsProbe, type ClosableAwsProbe } from './aws-probe.ts';
import type { Dns, DoctorDeps, DoctorFs, Env } from './doctor-deps.ts';

export const nodeDoctorFs: DoctorFs = {
  readFile: (path) => fsp.readFile(path, 'utf8'),
  async stat(path) {
    const s = await fsp.stat(path);
    return {
      uid: s.uid,
      gid: s.gid,
      mode: s.mode & 0o7777,
      isDirectory: s.isDirectory(),
      isFile: s.isFile(),
    };
  },
  readdir: (path) => fsp.readdir(path),
  async probeWrite(dir) {
    // A name the sidecar removes at its next start should this process die before the unlink.
    const path = join(dir, tempFileName('doctor-probe'));
    const handle = await fsp.open(path, 'wx', 0o600);
    await handle.close();
    await fsp.unlink(path);
  },
};

export const nodeDns: Dns = {
  lookup: async (host) => (await dns.lookup(host, { all: true })).map((a) => a.address),
  resolveSrv: async (name) => (await dns.resolveSrv(name)).map((r) => ({ name: r.name, port: r.port })),
};

export function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}

export function nodeDoctorDeps(
  env: Env,
  config: SidecarConfig,
  now: () => number,
): DoctorDeps & { aws: ClosableAwsProbe } {
  return {
    env,
    config,
    now,
    uid: process.getuid?.(),
    fs: nodeDoctorFs,
    aws: createAwsProbe(env, config, now),
    dns: nodeDns,
    connect: tcpConnect,
    signRds: sdkRdsSigner,
  };
}
