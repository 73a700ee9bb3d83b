/**
 * Startup errors that name the component: a failure to reach or open PostgreSQL becomes one line
 * that says it is DATABASE_URL, where it points (host:port, database, user) and what to check;
 * never the password or the rest of the URL, and never the driver's message (PostgreSQL's may
 * quote values). The start's `startup_failed` line (src/runtime/node.ts) prints it as it is.
 */

/** Where a postgres:// URL points, without its credentials. */
export function describeDatabaseUrl(url: string): { host: string; port: string; database: string; user: string } {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // A host list (postgres://u@h1:5432,h2:5432/db) is no WHATWG URL: take the part after '@'.
  }
  if (parsed?.hostname) {
    return {
      host: parsed.hostname.replace(/^\[|\]$/g, ''),
      port: parsed.port || '5432',
      database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || decodeURIComponent(parsed.username) || 'postgres',
      user: decodeURIComponent(parsed.username) || 'postgres',
    };
  }
  const m = /^postgres(?:ql)?:\/\/(?:([^:@/]*)(?::[^@/]*)?@)?([^/?]*)(?:\/([^?]*))?/.exec(url);
  const hosts = m?.[2] || 'localhost';
  return { host: hosts, port: hosts.includes(':') ? '' : '5432', database: m?.[3] || m?.[1] || 'postgres', user: m?.[1] || 'postgres' };
}

/** The codes of the error and its causes (postgres.js passes node's errno codes and SQLSTATEs as `code`). */
function codesOf(err: unknown): string[] {
  const codes: string[] = [];
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    // AggregateError (node's happy eyeballs over several addresses) holds one error per address.
    for (const inner of (e as { errors?: unknown[] }).errors ?? []) {
      const c = (inner as { code?: unknown })?.code;
      if (typeof c === 'string') codes.push(c);
    }
  }
  return codes;
}

/**
 * One line for an error met while opening PostgreSQL at start (connecting, authenticating,
 * migrating): `DATABASE_URL unreachable at 127.0.0.1:5432 (connection refused: …)`,
 * `DATABASE_URL: database "kcc" does not exist at db:5432`, … An error that is none of these is
 * still named (`DATABASE_URL: PostgreSQL at host:port failed at start (<code>)`).
 */
export function postgresStartupError(url: string, err: unknown): Error {
  const where = describeDatabaseUrl(url);
  const at = where.port ? `${where.host}:${where.port}` : where.host;
  const codes = codesOf(err);
  const has = (...wanted: string[]) => codes.find((c) => wanted.includes(c));
  let line: string;
  if (has('ECONNREFUSED')) line = `DATABASE_URL unreachable at ${at} (connection refused: is PostgreSQL running and listening there?)`;
  else if (has('ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME')) line = `DATABASE_URL unreachable: host ${where.host} not found (DNS)`;
  else if (has('ETIMEDOUT', 'CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH'))
    line = `DATABASE_URL unreachable at ${at} (${has('ETIMEDOUT', 'CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH')}: no answer; check the host, the port and the firewall)`;
  else if (has('ECONNRESET', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'EPIPE'))
    line = `DATABASE_URL: PostgreSQL at ${at} closed the connection (${has('ECONNRESET', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'EPIPE')}; TLS or pg_hba.conf?)`;
  else if (has('28P01', '28000'))
    line = `DATABASE_URL: PostgreSQL at ${at} refused user "${where.user}" (${has('28P01', '28000')}: check the user, the password and pg_hba.conf)`;
  else if (has('3D000')) line = `DATABASE_URL: database "${where.database}" does not exist at ${at} (3D000)`;
  else if (has('53300')) line = `DATABASE_URL: PostgreSQL at ${at} has no free connection slot (53300: lower DATABASE_POOL_SIZE or raise max_connections)`;
  else if (has('57P03')) line = `DATABASE_URL: PostgreSQL at ${at} is starting up or shutting down (57P03); retry`;
  else if (has('42501')) line = `DATABASE_URL: user "${where.user}" may not create the issuer's tables in "${where.database}" at ${at} (42501)`;
  else line = `DATABASE_URL: PostgreSQL at ${at} failed at start (${codes[0] ?? (err instanceof Error ? err.name : 'error')})`;
  return new Error(line, { cause: err });
}
