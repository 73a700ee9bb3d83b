import { describe, expect, it } from 'vitest';
import { WebhookRejected } from '../../src/idv/provider';
import { applicationStatusFor, transition } from '../../src/idv/stateMachine';
import { parseTimestampedHeader, signBodyHmac, signTimestampedHmac, verifyBodyHmac, verifyTimestampedHmac } from '../../src/idv/webhookSignature';
import { createHmac } from 'node:crypto';

const raw = new TextEncoder().encode('{"data":{"id":"evt_1"}}');
const T = 1_800_000_000;

async function rejects(p: Promise<unknown>, reason: WebhookRejected['reason']) {
  const err = await p.then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeInstanceOf(WebhookRejected);
  expect(err.reason).toBe(reason);
}

describe('timestamped HMAC (t=…,v1=…)', () => {
  it('matches an independent HMAC-SHA256 of "t.body" (node:crypto)', async () => {
    const header = await signTimestampedHmac('s3cret', raw, T);
    const expected = createHmac('sha256', 's3cret').update(`${T}.`).update(raw).digest('hex');
    expect(header).toBe(`t=${T},v1=${expected}`);
  });

  it('accepts any active secret and any of several pairs (rotation), within the tolerance', async () => {
    const header = `${await signTimestampedHmac('old', raw, T)} ${await signTimestampedHmac('new', raw, T)}`;
    expect(parseTimestampedHeader(header)).toHaveLength(2);
    await expect(verifyTimestampedHmac({ header, raw, secrets: ['new'], now: T * 1000, toleranceSeconds: 300 })).resolves.toBe(T);
    await expect(
      verifyTimestampedHmac({ header: await signTimestampedHmac('old', raw, T), raw, secrets: ['new', 'old'], now: (T + 299) * 1000, toleranceSeconds: 300 }),
    ).resolves.toBe(T);
  });

  it('refuses a wrong secret, an altered body, a missing or malformed header, an old or future timestamp', async () => {
    const header = await signTimestampedHmac('s3cret', raw, T);
    await rejects(verifyTimestampedHmac({ header, raw, secrets: ['other'], now: T * 1000, toleranceSeconds: 300 }), 'bad_signature');
    await rejects(
      verifyTimestampedHmac({ header, raw: new TextEncoder().encode('{"data":{"id":"evt_2"}}'), secrets: ['s3cret'], now: T * 1000, toleranceSeconds: 300 }),
      'bad_signature',
    );
    await rejects(verifyTimestampedHmac({ header: null, raw, secrets: ['s3cret'], now: T * 1000, toleranceSeconds: 300 }), 'missing_signature');
    await rejects(verifyTimestampedHmac({ header: 'garbage', raw, secrets: ['s3cret'], now: T * 1000, toleranceSeconds: 300 }), 'bad_signature');
    await rejects(
      verifyTimestampedHmac({ header: header.replace(/v1=../, 'v1=00'), raw, secrets: ['s3cret'], now: T * 1000, toleranceSeconds: 300 }),
      'bad_signature',
    );
    await rejects(verifyTimestampedHmac({ header, raw, secrets: ['s3cret'], now: (T + 301) * 1000, toleranceSeconds: 300 }), 'stale');
    await rejects(verifyTimestampedHmac({ header, raw, secrets: ['s3cret'], now: (T - 301) * 1000, toleranceSeconds: 300 }), 'stale');
    await rejects(verifyTimestampedHmac({ header, raw, secrets: [], now: T * 1000, toleranceSeconds: 300 }), 'bad_signature');
    // The timestamp is covered by the MAC: moving it invalidates the signature.
    await rejects(
      verifyTimestampedHmac({ header: header.replace(`t=${T}`, `t=${T + 1}`), raw, secrets: ['s3cret'], now: T * 1000, toleranceSeconds: 300 }),
      'bad_signature',
    );
  });
});

describe('body HMAC', () => {
  it('verifies hex and base64 (with prefix) against node:crypto, refuses others', async () => {
    const hex = createHmac('sha256', 'k').update(raw).digest('hex');
    expect(await signBodyHmac('k', raw, 'hex')).toBe(hex);
    await verifyBodyHmac({ signature: hex, raw, secrets: ['x', 'k'], encoding: 'hex' });
    const b64 = createHmac('sha256', 'k').update(raw).digest('base64');
    await verifyBodyHmac({ signature: `sha256=${b64}`, raw, secrets: ['k'], encoding: 'base64', prefix: 'sha256=' });
    await rejects(verifyBodyHmac({ signature: b64, raw, secrets: ['k'], encoding: 'base64', prefix: 'sha256=' }), 'bad_signature');
    await rejects(verifyBodyHmac({ signature: hex, raw, secrets: ['nope'], encoding: 'hex' }), 'bad_signature');
    await rejects(verifyBodyHmac({ signature: hex.slice(2), raw, secrets: ['k'], encoding: 'hex' }), 'bad_signature');
    await rejects(verifyBodyHmac({ signature: undefined, raw, secrets: ['k'], encoding: 'hex' }), 'missing_signature');
  });
});

describe('state machine', () => {
  it('moves forward, refuses moves back, lets resubmission restart, records re-decisions', () => {
    expect(transition('created', 'in_progress')).toEqual({ kind: 'apply', redecision: false });
    expect(transition('in_progress', 'approved')).toEqual({ kind: 'apply', redecision: false });
    expect(transition('processing', 'in_progress')).toEqual({ kind: 'ignore', why: 'backward' });
    expect(transition('resubmission_requested', 'in_progress')).toEqual({ kind: 'apply', redecision: false });
    expect(transition('needs_review', 'approved')).toEqual({ kind: 'apply', redecision: false });
    expect(transition('needs_review', 'in_progress')).toEqual({ kind: 'ignore', why: 'backward' });
    expect(transition('approved', 'declined')).toEqual({ kind: 'apply', redecision: true });
    expect(transition('declined', 'approved')).toEqual({ kind: 'apply', redecision: true });
    expect(transition('approved', 'in_progress')).toEqual({ kind: 'ignore', why: 'after_terminal' });
    expect(transition('expired', 'approved')).toEqual({ kind: 'ignore', why: 'after_terminal' });
    expect(transition('approved', 'approved')).toEqual({ kind: 'ignore', why: 'same_state' });
  });

  it('maps onto the application status the credential endpoints read', () => {
    expect(['created', 'in_progress', 'processing', 'resubmission_requested'].map((s) => applicationStatusFor(s as never))).toEqual([
      'pending',
      'pending',
      'pending',
      'pending',
    ]);
    expect(applicationStatusFor('needs_review')).toBe('review');
    expect(applicationStatusFor('approved')).toBe('approved');
    expect(['declined', 'expired', 'abandoned'].map((s) => applicationStatusFor(s as never))).toEqual(['rejected', 'rejected', 'rejected']);
  });
});
