/**
 * The serving certificate: loaded from files, checked (the key must match the certificate), and
 * reloaded without a restart when the files change, so cert-manager or a re-run of certs/generate.sh
 * rotates it in place. Kubernetes Secret volumes update by swapping a `..data` symlink inside the
 * mounted directory, so the directory is watched (not the files), events are debounced, and the pair is
 * re-read as a whole. A periodic re-check covers file systems whose watch events get lost. A bad new
 * pair never replaces a good one.
 */
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { watch as fsWatch, readFileSync, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
  /** SHA-256 of the leaf certificate (DER), for logs. */
  fingerprint: string;
  subject: string;
  notAfter: Date;
}

export class TlsLoadError extends Error {
  override name = 'TlsLoadError';
}

type ReadFile = (path: string) => Buffer;

/** Reads and checks a certificate/key pair; throws TlsLoadError naming the file and the problem. */
export function loadTlsPair(certFile: string, keyFile: string, readFile: ReadFile = readFileSync): TlsPair {
  const read = (path: string, what: string): Buffer => {
    try {
      return readFile(path);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new TlsLoadError(
        `cannot read the TLS ${what} file ${path} (${reason}); check --tls-${what}-file`,
      );
    }
  };
  const cert = read(certFile, 'cert');
  const key = read(keyFile, 'key');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new TlsLoadError(
      `${certFile} is not a PEM certificate; it must hold the serving certificate (chain)`,
    );
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    // Never echo key material: the parser's message may quote it.
    throw new TlsLoadError(`${keyFile} is not an unencrypted PEM private key`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new TlsLoadError(
      `the key in ${keyFile} does not belong to the certificate in ${certFile} (subject ${leaf.subject}); ` +
        'they must be replaced together',
    );
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new TlsLoadError(`Node cannot serve ${certFile} with ${keyFile}: ${(error as Error).message}`);
  }
  return {
    cert,
    key,
    fingerprint: createHash('sha256').update(leaf.raw).digest('hex'),
    subject: leaf.subject.replace(/\n/g, ', '),
    notAfter: new Date(leaf.validTo),
  };
}

export type ReloadResult = 'loaded' | 'unchanged' | 'rejected';

export interface TlsReloadLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface CertificateReloaderOptions {
  certFile: string;
  keyFile: string;
  /** The pair served now (loaded at start). */
  initial: TlsPair;
  /** Installs a new pair, e.g. `server.setSecureContext({cert, key})`. */
  apply: (pair: TlsPair) => void;
  logger: TlsReloadLogger;
  onResult?: (result: ReloadResult, pair: TlsPair) => void;
  /** Quiet time after the last change event before re-reading (a symlink swap is several events). */
  debounceMs?: number;
  /** Periodic re-read in case watch events are missed; 0 turns it off. */
  pollIntervalMs?: number;
  readFile?: ReadFile;
  watch?: (directory: string, listener: () => void) => FSWatcher;
}

export interface CertificateReloader {
  /** Re-reads the files now; also what watch events and the poll call. */
  reload(): ReloadResult;
  current(): TlsPair;
  close(): void;
}

function defaultWatch(directory: string, listener: () => void): FSWatcher {
  return fsWatch(directory, { persistent: false }, listener);
}

export function startCertificateReloader(options: CertificateReloaderOptions): CertificateReloader {
  const { certFile, keyFile, apply, logger } = options;
  const debounceMs = options.debounceMs ?? 250;
  const pollIntervalMs = options.pollIntervalMs ?? 60_000;
  const readFile = options.readFile ?? readFileSync;
  let current = options.initial;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const reload = (): ReloadResult => {
    let next: TlsPair;
    try {
      next = loadTlsPair(certFile, keyFile, readFile);
    } catch (error) {
      logger.warn(
        { err: { message: (error as Error).message }, servingFingerprint: current.fingerprint },
        'new TLS certificate rejected; still serving the previous one',
      );
      options.onResult?.('rejected', current);
      return 'rejected';
    }
    if (next.cert.equals(current.cert) && next.key.equals(current.key)) {
      options.onResult?.('unchanged', current);
      return 'unchanged';
    }
    apply(next);
    logger.info(
      {
        previousFingerprint: current.fingerprint,
        fingerprint: next.fingerprint,
        subject: next.subject,
        notAfter: next.notAfter.toISOString(),
      },
      'TLS certificate reloaded',
    );
    current = next;
    options.onResult?.('loaded', current);
    return 'loaded';
  };

  const schedule = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed) reload();
    }, debounceMs);
    timer.unref();
  };

  const watchers: FSWatcher[] = [];
  const watchFn = options.watch ?? defaultWatch;
  for (const directory of new Set([dirname(resolve(certFile)), dirname(resolve(keyFile))])) {
    try {
      const watcher = watchFn(directory, schedule);
      watcher.on('error', (error: Error) => {
        logger.warn(
          { directory, err: { message: error.message } },
          'TLS directory watch failed; relying on polling',
        );
      });
      watchers.push(watcher);
    } catch (error) {
      logger.warn(
        { directory, err: { message: (error as Error).message } },
        'cannot watch TLS directory; polling',
      );
    }
  }
  const poll = pollIntervalMs > 0 ? setInterval(() => reload(), pollIntervalMs) : undefined;
  poll?.unref();

  return {
    reload,
    current: () => current,
    close: () => {
      closed = true;
      if (timer) clearTimeout(timer);
      if (poll) clearInterval(poll);
      for (const watcher of watchers) watcher.close();
    },
  };
}
