/**
 * A listener that could not bind, as one line naming the setting (PORT, METRICS_PORT) instead of
 * Node's stack trace.
 */
export function listenError(setting: string, port: number, host: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  const where = `${host}:${port}`;
  const why =
    code === 'EADDRINUSE'
      ? `is in use (${where}): another process listens there; stop it or choose another ${setting}`
      : code === 'EACCES'
        ? `cannot be bound (${where}): permission denied (ports below 1024 need privileges)`
        : code === 'EADDRNOTAVAIL'
          ? `cannot be bound (${where}): the address is not one of this host's`
          : `cannot be bound (${where}): ${code}`;
  return new Error(`${setting} ${port} ${why}`);
}
