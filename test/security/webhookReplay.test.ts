import { describe, expect, it } from 'vitest';
import { createGenericHmacProvider } from '../../src/idv/genericHmac';
import { signBodyHmac, signTimestampedHmac } from '../../src/idv/webhookSignature';
import { PUBLIC_URL, makeTestIssuer, testClock } from '../helpers/issuer';

/**
 * Replaying a captured vendor webhook. A signature over the body alone never expires, so the
 * signed event time bounds replays (IDV_WEBHOOK_REPLAY_WINDOW_SECONDS) and the event id
 * deduplicates within it; a timestamped signature is held to its tolerance.
 */
const DAY = 24 * 60 * 60;
const noNetwork = async () => {
  throw new Error('no vendor API in this test');
};

async function setup(scheme: 'body' | 'timestamped') {
  const clock = testClock(Date.UTC(2026, 10, 23, 12, 0, 0));
  const vendor = createGenericHmacProvider({
    name: 'acme',
    secrets: ['acme-secret'],
    signature:
      scheme === 'body'
        ? { scheme: 'body', header: 'x-hmac-signature', encoding: 'hex' }
        : { scheme: 'timestamped', header: 'x-hmac-signature', toleranceSeconds: 300 },
    sessionUrl: 'https://vendor.example/v1/sessions',
    resultUrl: 'https://vendor.example/v1/sessions/{reference}',
    eventTimePath: 'timestamp',
    statusMap: { approved: 'approved', declined: 'declined', review: 'needs_review' },
    fetch: noNetwork as unknown as typeof fetch,
  });
  const t = await makeTestIssuer({ clock, config: { idv: { provider: 'acme' } }, idv: { vendors: new Map([['acme', vendor]]), outboundSecrets: [] } });
  const post = (raw: string, signature: string) =>
    t.app.request(`${PUBLIC_URL}/idv/webhooks/acme`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hmac-signature': signature },
      body: raw,
    });
  return { t, clock, post, nowS: () => Math.floor(clock() / 1000) };
}

describe('vendor webhook replays', () => {
  it('body-signed: an event older than the replay window is refused; a fresh one counts once', async () => {
    const { post, nowS } = await setup('body');
    const old = JSON.stringify({ id: 'evt_old', type: 'decision', session_id: 'ses_x', timestamp: nowS() - 4 * DAY });
    const stale = await post(old, await signBodyHmac('acme-secret', new TextEncoder().encode(old)));
    expect(stale.status).toBe(401);
    expect(((await stale.json()) as { error_description: string }).error_description).toContain('stale');
    const fresh = JSON.stringify({ id: 'evt_new', type: 'decision', session_id: 'ses_x', timestamp: nowS() - 60 });
    const sig = await signBodyHmac('acme-secret', new TextEncoder().encode(fresh));
    expect(((await (await post(fresh, sig)).json()) as { disposition: string }).disposition).toBe('unknown_session');
    expect(((await (await post(fresh, sig)).json()) as { disposition: string }).disposition).toBe('duplicate');
  });

  it('body-signed: a replay inside the window is deduplicated by id, past it refused', async () => {
    const { post, nowS, clock } = await setup('body');
    const raw = JSON.stringify({ id: 'evt_1', type: 'decision', session_id: 'ses_x', timestamp: nowS() });
    const sig = await signBodyHmac('acme-secret', new TextEncoder().encode(raw));
    expect((await post(raw, sig)).status).toBe(200);
    clock.advance(2 * DAY);
    expect(((await (await post(raw, sig)).json()) as { disposition: string }).disposition).toBe('duplicate');
    clock.advance(2 * DAY);
    expect((await post(raw, sig)).status).toBe(401);
  });

  it('timestamped: a delivery signed outside the tolerance is refused even with a new event id', async () => {
    const { post, nowS } = await setup('timestamped');
    const raw = JSON.stringify({ id: 'evt_2', type: 'decision', session_id: 'ses_x', timestamp: nowS() });
    const bytes = new TextEncoder().encode(raw);
    expect((await post(raw, await signTimestampedHmac('acme-secret', bytes, nowS() - 600))).status).toBe(401);
    expect((await post(raw, await signTimestampedHmac('acme-secret', bytes, nowS() - 10))).status).toBe(200);
  });
});
