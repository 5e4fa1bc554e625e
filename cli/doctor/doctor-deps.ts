/**
 * Everything a doctor check touches, passed in: tests give the STS emulator, temp directories and
 * fakes; the CLI gives the real SDK, file system, DNS and sockets (node-deps.ts).
 */
import type { SidecarConfig, Target } from '../../contract/sidecar-config.ts';
import type { TemporaryCredentials } from '../../sidecar/src/identity.ts';
import type { RdsSigner } from '../../sidecar/src/rds-token.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export interface FileFacts {
  uid: number;
  gid: number;
  /** Permission bits only (mode & 0o7777). */
  mode: number;
  isDirectory: boolean;
  isFile: boolean;
}

export interface DoctorFs {
  readFile(path: string): Promise<string>;
  stat(path: string): Promise<FileFacts>;
  readdir(path: string): Promise<string[]>;
  /** Creates and removes a file in `dir`, as the sidecar's atomic writes do. */
  probeWrite(dir: string): Promise<void>;
}

export interface CallerIdentity {
  arn: string;
  account: string;
}

export interface AssumedRole {
  /** `arn:aws:sts::<acct>:assumed-role/<name>/<session>` */
  arn: string;
  credentials: TemporaryCredentials;
}

/** STS as the sidecar uses it (same SDK chain, same AssumeRole parameters). */
export interface AwsProbe {
  /** Where STS calls go, for the report: an endpoint override or the regional endpoint. */
  readonly stsEndpoint: string;
  /** The pod's own identity from the SDK default chain (one fetch, no cache). */
  baseIdentity(): Promise<TemporaryCredentials>;
  callerIdentity(credentials: TemporaryCredentials): Promise<CallerIdentity>;
  assumeRole(target: Target, credentials: TemporaryCredentials): Promise<AssumedRole>;
  /** STS's clock minus ours from the `Date` of the last STS answer (success or error); undefined if none. */
  stsOffsetMs(): number | undefined;
}

export interface SrvRecord {
  name: string;
  port: number;
}

export interface Dns {
  lookup(host: string): Promise<string[]>;
  resolveSrv(name: string): Promise<SrvRecord[]>;
}

export interface DoctorDeps {
  env: Env;
  config: SidecarConfig;
  now(): number;
  /** This process's UID: the sidecar runs as the app's UID (the webhook sets its runAsUser). */
  uid: number | undefined;
  fs: DoctorFs;
  aws: AwsProbe;
  dns: Dns;
  /** Resolves once a TCP connection to host:port is open (then closes it); rejects on error or timeout. */
  connect(host: string, port: number, timeoutMs: number): Promise<void>;
  signRds: RdsSigner;
}

/** What earlier checks learned, for the checks that need it. */
export interface DoctorFindings {
  identitySource?: string;
  baseCredentials?: TemporaryCredentials;
  caller?: CallerIdentity;
  /** Credentials of each target's role, by target name. */
  targetCredentials: Map<string, TemporaryCredentials>;
}
