/**
 * Check f: the shared directory exists, the sidecar can write it, and the files it holds belong to
 * the app's UID with mode 0600. The sidecar runs as the app's UID (the webhook sets its runAsUser to
 * the app's), so this process's UID is the one the app reads with.
 */
import { FILES } from '../../contract/sidecar-config.ts';
import { hintFor } from '../../sidecar/src/error-class.ts';
import { TEMP_FILE_PATTERN } from '../../sidecar/src/files.ts';
import { fail, pass, warn, type CheckOutcome } from './check-result.ts';
import type { DoctorDeps } from './doctor-deps.ts';

const octal = (mode: number) => `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'error';
}

const UID_FIX =
  'the sidecar and the app must run as one UID: set securityContext.runAsUser on the pod (or the token-broker.io/run-as-user annotation) to the UID of the app containers, then re-create the pod';

export async function checkDirectory(deps: DoctorDeps): Promise<CheckOutcome> {
  const dir = deps.config.directory;
  const appUid = deps.uid === undefined ? 'unknown' : String(deps.uid);
  let facts;
  try {
    facts = await deps.fs.stat(dir);
  } catch (error) {
    return fail(
      `${dir} cannot be read (${codeOf(error)})`,
      'the token-broker volume must be mounted in the sidecar at the directory of its config; re-create the pod so the webhook injects it',
    );
  }
  if (!facts.isDirectory) {
    return fail(`${dir} is not a directory`, 'the token-broker volume must be mounted there (an emptyDir)');
  }
  const details = [
    `${dir}: owner uid ${facts.uid} gid ${facts.gid}, mode ${octal(facts.mode)}; the sidecar (and so the app) runs as uid ${appUid}`,
  ];
  try {
    await deps.fs.probeWrite(dir);
    details.push('the sidecar can create files in it');
  } catch (error) {
    return fail(
      `${dir} is not writable by uid ${appUid} (${codeOf(error)})`,
      hintFor('volume-read-only'),
      details,
    );
  }
  let names: string[];
  try {
    names = await deps.fs.readdir(dir);
  } catch (error) {
    return fail(
      `${dir} cannot be listed by uid ${appUid} (${codeOf(error)})`,
      hintFor('volume-read-only'),
      details,
    );
  }
  const foreign: string[] = [];
  const loose: string[] = [];
  let checked = 0;
  for (const name of names.sort()) {
    if (name === FILES.socket || TEMP_FILE_PATTERN.test(name)) continue;
    let f;
    try {
      f = await deps.fs.stat(`${dir}/${name}`);
    } catch {
      continue; // replaced between readdir and stat
    }
    if (!f.isFile) continue;
    checked++;
    if (deps.uid !== undefined && f.uid !== deps.uid)
      foreign.push(`${name} (uid ${f.uid}, ${octal(f.mode)})`);
    else if ((f.mode & 0o077) !== 0) loose.push(`${name} (${octal(f.mode)})`);
  }
  details.push(`${checked} file(s) checked`);
  if (foreign.length > 0) {
    return fail(
      `files not owned by uid ${appUid}, so the app cannot read them (they are 0600): ${foreign.join(', ')}`,
      UID_FIX,
      details,
    );
  }
  if (loose.length > 0) {
    return warn(
      `files readable by other users: ${loose.join(', ')}`,
      'the sidecar writes 0600: something else changed or wrote these files; libpq refuses a pgpass readable by others',
      details,
    );
  }
  return pass(`${dir} is writable and its files belong to uid ${appUid} with mode 0600`, details);
}
