/** `token-broker status [--json] [--socket <path>] [--url <url>]`, parsed without side effects. */

export interface StatusArgs {
  help: boolean;
  json: boolean;
  socket: string | undefined;
  url: string | undefined;
}

export class StatusUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatusUsageError';
  }
}

export function parseStatusArgs(argv: readonly string[]): StatusArgs {
  const args: StatusArgs = { help: false, json: false, socket: undefined, url: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new StatusUsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--help':
      case '-h':
        args.help = true;
        break;
      case '--json':
        args.json = true;
        break;
      case '--socket':
        args.socket = value();
        break;
      case '--url': {
        const url = value();
        if (!/^http:\/\/[^/]+/i.test(url)) {
          throw new StatusUsageError(
            `--url must be an http:// URL of the sidecar's API, e.g. http://127.0.0.1:9901; got "${url}"`,
          );
        }
        args.url = url;
        break;
      }
      default:
        throw new StatusUsageError(`unknown argument "${arg}"`);
    }
  }
  if (args.socket !== undefined && args.url !== undefined) {
    throw new StatusUsageError('give --socket or --url, not both');
  }
  return args;
}
