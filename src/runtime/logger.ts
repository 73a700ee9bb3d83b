import { pino } from 'pino';
import type { Logger, LogLevel } from '../ports/logger';

/**
 * The Node logger: pino, one JSON line per event on stdout, at LOG_LEVEL and above (`silent`:
 * nothing, errors included). The lines keep the shape of the Workers console logger
 * (src/ports/logger.ts): `level` as a word, `time` in ISO 8601, `event`, then the fields.
 */
export function nodeLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  const log = pino(
    {
      level,
      base: undefined,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: true }),
  );
  return {
    debug: (event, fields) => log.debug({ event, ...fields }),
    info: (event, fields) => log.info({ event, ...fields }),
    warn: (event, fields) => log.warn({ event, ...fields }),
    error: (event, fields) => log.error({ event, ...fields }),
  };
}
