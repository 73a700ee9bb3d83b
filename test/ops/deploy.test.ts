import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/http/context';
import { startNodeIssuer } from '../../src/runtime/node';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { makeIssuerKeys } from '../helpers/issuer';

/**
 * The deployment material under deploy/ is checked by the tools that read it: the alert rules by
 * `promtool check rules`, and our own /metrics exposition by `promtool check metrics` (its lint).
 * promtool comes with Debian's `prometheus` package, which .ci/run installs.
 */
const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
const needsPromtool = () => {
  if (PROMTOOL) return;
  if (process.env.CI) throw new Error('promtool is missing: .ci/run installs Debian package prometheus');
};

describe('deployment material', () => {
  it('the Prometheus alert rules pass promtool check rules and name only metrics we export', () => {
    needsPromtool();
    const rules = join(import.meta.dirname, '..', '..', 'deploy', 'prometheus', 'kcc-alerts.yml');
    const text = readFileSync(rules, 'utf8');
    const metricsSource = readFileSync(join(import.meta.dirname, '..', '..', 'src', 'runtime', 'metrics.ts'), 'utf8');
    for (const name of new Set(text.match(/\bkcc_[a-z_]+/g) ?? [])) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      expect(metricsSource, `${name} in the alert rules`).toContain(`'${base}'`);
    }
    if (!PROMTOOL) return;
    const run = spawnSync(PROMTOOL, ['check', 'rules', rules], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toContain('SUCCESS');
    expect(run.status).toBe(0);
  });

  it('the systemd unit starts the production build and stops by SIGTERM', () => {
    const unit = readFileSync(join(import.meta.dirname, '..', '..', 'deploy', 'systemd', 'kcc-issuer.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=.*npm run start:prod$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
  });
});

describe('our /metrics passes promtool check metrics', () => {
  let dir: string;
  let issuer: Awaited<ReturnType<typeof startNodeIssuer>>;
  const token = 'metrics-token-0123456789abcdef-0123';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kcc-promlint-'));
    issuer = await startNodeIssuer({ port: 0, dataDir: dir, keys: await makeIssuerKeys(), logger: silentLogger, backgroundIntervalMs: 0, metrics: { token } });
  });
  afterAll(async () => {
    await issuer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('after a whole flow (every route and business figure has samples)', async () => {
    needsPromtool();
    const flow = await applyForKcc(new WalletClient(await Holder.create(), (u, i) => fetch(u, i)), {
      issuer: issuer.url,
      identity: SAMPLE_IDENTITY,
      pollAttempts: 0,
    });
    expect(flow.credential).toBeTypeOf('string');
    const res = await fetch(`${issuer.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.text();
    expect(body).toContain('kcc_http_requests_total');
    if (!PROMTOOL) return;
    // Our own families only: prom-client's default process metrics are not ours to rename
    // (promtool flags its nodejs_active_*_total gauges).
    const ours = body
      .split('\n')
      .filter((line) => /^(# (HELP|TYPE) )?kcc_/.test(line))
      .join('\n');
    expect(ours).toContain('# TYPE kcc_http_request_duration_seconds histogram');
    const run = spawnSync(PROMTOOL, ['check', 'metrics'], { input: `${ours}\n`, encoding: 'utf8' });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
