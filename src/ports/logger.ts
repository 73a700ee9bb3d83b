/** Structured log lines. Callers pass no PII and no secrets: ids, codes and counts only. */
export interface Logger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** One JSON object per line (stdout by default). */
export function jsonLogger(write: (line: string) => void = (l) => console.log(l)): Logger {
  const log = (level: string) => (event: string, fields?: Record<string, unknown>) =>
    write(JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }));
  return { info: log('info'), warn: log('warn'), error: log('error') };
}
