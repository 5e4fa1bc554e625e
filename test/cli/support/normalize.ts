/**
 * Makes a real run's output comparable with a golden file: times, durations, ports, temp paths, UIDs
 * and SDK session names differ between runs; everything else must not.
 */
export interface NormalizeOptions {
  /** Temp directories of the run, replaced by `<dir>`. */
  dirs?: readonly string[];
}

export function normalizeOutput(text: string, options: NormalizeOptions = {}): string {
  let out = text;
  for (const dir of options.dirs ?? []) out = out.split(dir).join('<dir>');
  return (
    out
      .replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\b/g, '<time>')
      .replace(/\b(?:\d+d\d\dh|\d+h\d\dm|\d+m\d\ds|\d+s)\b/g, '<duration>')
      // describeOffset(): "6 min 40 s behind STS", "0 s ahead of STS"
      .replace(/\b(?:\d+ min \d+ s|\d+ min|\d+ s) (behind|ahead of) STS/g, '<offset> $1 STS')
      .replace(/\b127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
      .replace(/\bport \d+/g, 'port <port>')
      .replace(/\b(uid|gid) \d+/g, '$1 <$1>')
      .replace(/\baws-sdk-js-(?:session-)?\d+\b/g, '<sdk-session>')
      .replace(/\b\d+ characters\b/g, '<n> characters')
      .replace(/"(expiresInSeconds|lastSuccessAgeSeconds)": -?\d+/g, '"$1": <seconds>')
      // consecutive failures of a target still retrying
      .replace(/\(\d+x\)/g, '(<n>x)')
      .replace(/"consecutiveFailures": [1-9]\d*/g, '"consecutiveFailures": <n>')
      // table columns are padded to the real values' widths
      .replace(/(?<=\S) {2,}/g, '  ')
  );
}
