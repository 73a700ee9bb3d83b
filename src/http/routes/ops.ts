import { Hono } from 'hono';
import { NotFound, Unauthorized } from '../../protocol/errors';
import { bearerMatches, bearerOf } from '../bearer';
import type { AppEnv } from '../context';
import { PATHS } from '../../paths';
import { describeRoute, doc } from '../openapi';
import { NotReady, Ready } from '../apiBodies';

/**
 * Operations endpoints beside the /healthz liveness check (routes/metadata.ts): /readyz
 * (readiness: the database answers and this build's migrations are applied) and /metrics
 * (Prometheus text format, when the runtime configured metrics with a bearer token).
 */
export const opsRoutes = new Hono<AppEnv>();

/** /readyz answers within this bound whatever the database does (then: not ready, the database unreachable). */
export const READINESS_BOUND_MS = 2000;

opsRoutes.get(
  PATHS.ready,
  describeRoute({
    summary: 'Readiness: database reachable, migrations applied, not shutting down',
    tags: ['ops'],
    responses: { 200: doc.json('Ready', Ready), 503: doc.json('Not ready', NotReady) },
  }),
);
opsRoutes.get(PATHS.ready, async (c) => {
  const deps = c.get('deps');
  c.header('Cache-Control', 'no-store');
  // Shutting down: not ready at once, before the listener stops accepting (the drain delay).
  if (deps.draining?.()) return c.json({ error: 'not_ready', error_description: 'the server is shutting down', checks: { shutdown: 'draining' } }, 503);
  // Without the SQLite counting queries (PostgreSQL, whose migrations run under a lock before the
  // server listens), readiness is the store answering a read.
  const unreachable = { ready: false, database: 'unreachable' as const, pendingMigrations: [] as string[] };
  const check = deps.stats
    ? deps.stats.readiness()
    : deps.store.statusLists.get(0).then(() => ({ ready: true, database: 'ok' as const, pendingMigrations: [] as string[] }));
  // Readiness never waits on the database longer than its own bound: a balancer's probe must get an answer.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const r = await Promise.race([
    check.catch(() => unreachable),
    new Promise<typeof unreachable>((ok) => {
      timer = setTimeout(() => ok(unreachable), READINESS_BOUND_MS);
    }),
  ]).finally(() => clearTimeout(timer));
  const checks = { database: r.database, migrations: r.database === 'ok' ? (r.pendingMigrations.length ? 'pending' : 'ok') : 'unknown' };
  c.header('Cache-Control', 'no-store');
  if (r.ready) return c.json({ status: 'ready', checks });
  deps.logger.warn('not_ready', { ...checks, pendingMigrations: r.pendingMigrations });
  const description = r.database !== 'ok' ? 'the database is unreachable' : `migrations not applied: ${r.pendingMigrations.join(', ')}`;
  return c.json({ error: 'not_ready', error_description: description, checks, pending_migrations: r.pendingMigrations }, 503);
});

opsRoutes.get(
  PATHS.metrics,
  describeRoute({
    summary: 'Prometheus metrics (when METRICS_TOKEN is set)',
    tags: ['ops'],
    security: 'bearer',
    responses: {
      200: { description: 'Prometheus text format', mediaType: 'text/plain' },
      401: doc.error('Wrong token'),
      404: doc.error('Metrics not served here'),
    },
  }),
);
opsRoutes.get(PATHS.metrics, async (c) => {
  const metrics = c.get('deps').metrics;
  if (!metrics?.token) throw new NotFound('metrics are not served on this port (METRICS_TOKEN is not set)');
  if (!bearerMatches(c.get('deps').crypto, bearerOf(c.req.header('authorization')), metrics.token))
    throw new Unauthorized('a valid metrics bearer token is required');
  const { contentType, body } = await metrics.scrape();
  return c.body(body, 200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
});
