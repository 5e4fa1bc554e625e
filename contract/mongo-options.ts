/**
 * Which MongoDB connection-string options a mongo target may carry into the app's `.uri` file. An
 * allow-list, not a deny-list: drivers accept options that hold secrets (proxyPassword,
 * tlsCertificateKeyFilePassword, authMechanismProperties with AWS_SESSION_TOKEN, and in the Node.js
 * driver even `passphrase` and `key`), and new ones appear. Names follow the MongoDB URI options
 * specification; drivers match them case-insensitively, so does this module.
 */

/** Non-secret options passed through as written (current names; legacy aliases such as ssl are not). */
export const MONGO_PASS_THROUGH_OPTIONS = [
  'appName',
  'compressors',
  'zlibCompressionLevel',
  'connectTimeoutMS',
  'socketTimeoutMS',
  'serverSelectionTimeoutMS',
  'heartbeatFrequencyMS',
  'localThresholdMS',
  'serverMonitoringMode',
  'timeoutMS',
  'maxPoolSize',
  'minPoolSize',
  'maxConnecting',
  'maxIdleTimeMS',
  'waitQueueTimeoutMS',
  'readPreference',
  'readPreferenceTags',
  'maxStalenessSeconds',
  'readConcernLevel',
  'w',
  'wTimeoutMS',
  'journal',
  'retryReads',
  'retryWrites',
  'replicaSet',
  'directConnection',
  'loadBalanced',
  'srvMaxHosts',
  'srvServiceName',
  'tls',
  'tlsCAFile',
  'tlsCertificateKeyFile',
  'tlsInsecure',
  'tlsAllowInvalidCertificates',
  'tlsAllowInvalidHostnames',
  'proxyHost',
  'proxyPort',
] as const;

/**
 * Options the sidecar sets itself for MONGODB-AWS. A config may carry authSource and authMechanism
 * (the sidecar ignores them with a warning); authMechanismProperties is refused, as it carries
 * AWS_SESSION_TOKEN.
 */
export const MONGO_AUTH_OPTIONS = ['authSource', 'authMechanism', 'authMechanismProperties'] as const;
export const IGNORED_MONGO_AUTH_OPTIONS = ['authSource', 'authMechanism'] as const;

function canonical(list: readonly string[], key: string): string | undefined {
  const lower = key.toLowerCase();
  return list.find((name) => name.toLowerCase() === lower);
}

/** The option's canonical name when the sidecar passes it through, else undefined. */
export function passThroughMongoOption(key: string): string | undefined {
  return canonical(MONGO_PASS_THROUGH_OPTIONS, key);
}

/** authSource, authMechanism or authMechanismProperties, in any case. */
export function isMongoAuthOption(key: string): boolean {
  return canonical(MONGO_AUTH_OPTIONS, key) !== undefined;
}

/** Whether a sidecar config may hold this option key (passed through, or ignored by the sidecar). */
export function isAcceptedMongoOption(key: string): boolean {
  return (
    passThroughMongoOption(key) !== undefined || canonical(IGNORED_MONGO_AUTH_OPTIONS, key) !== undefined
  );
}
