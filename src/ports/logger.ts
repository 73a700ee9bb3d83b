/** Log levels, quietest last; `silent` writes nothing at all (errors included): `error` is the quietest level that still logs errors. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Structured log lines. Callers pass no PII and no secrets: ids, codes and counts only. */
export interface Logger {
  /** Routine detail (each scheduled job run); off at the default level `info`. Optional: a logger may have no debug level. */
  debug?(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * One JSON object per line (stdout by default) with `time`, `level` and `event`, from `level` up:
 * the console logger of Workers (Node logs through pino, src/runtime/logger.ts, with the same lines).
 */
export function jsonLogger(write: (line: string) => void = (l) => console.log(l), level: LogLevel = 'debug'): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const log = (name: Exclude<LogLevel, 'silent'>) =>
    LOG_LEVELS.indexOf(name) < threshold
      ? () => {}
      : (event: string, fields?: Record<string, unknown>) => write(JSON.stringify({ time: new Date().toISOString(), level: name, event, ...fields }));
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
