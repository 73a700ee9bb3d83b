import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, signJwt } from '../../src/crypto/jwt';
import { jsonLogger } from '../../src/http/context';
import { createAgentProof } from '../../src/protocol/kya/agentProof';
import { KYA_TOKEN_TYP, signKyaToken, type KyaTokenClaims } from '../../src/protocol/kya/token';
import { startNodeIssuer } from '../../src/runtime/node';
import { runCli } from '../../src/verifier/cli';
import { verifyKyaToken } from '../../src/verifier/kya';
import { Holder } from '../../src/wallet/holder';
import { ADMIN_TOKEN, testClock } from '../helpers/issuer';
import {
  holderWithKcc,
  issuerDid,
  issuerNonce,
  merchantOptions,
  merchantVerifies,
  mintFor,
  postKya,
  presentation,
  verifyWithJose,
  type KyaClient,
} from './helpers';

/**
 * Know Your Agent tokens on Node (SQLite), over real HTTP on loopback (docs/kya.md, issue "Know
 * Your Agent"): minting for a KCC holder's agent, the token checked by jose against the did:web
 * document, creation_ip from the request itself (socket, or the trusted proxy's hop), every
 * refusal, the KCC's life (suspended, revoked, expired), and the merchant's verifier and CLI.
 */
type Started = Awaited<ReturnType<typeof startNodeIssuer>>;

const dirs: string[] = [];
const logLines: string[] = [];
const clock = testClock();
let issuer: Started;
let proxied: Started;
let client: KyaClient;
let proxiedClient: KyaClient;
let did: string;

async function start(trustProxy: boolean, withClock: boolean) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kcc-kya-'));
  dirs.push(dataDir);
  return startNodeIssuer({
    port: 0,
    dataDir,
    trustProxy,
    backgroundIntervalMs: 0,
    ...(withClock ? { clock } : {}),
    logger: jsonLogger((l) => logLines.push(l)),
    config: { adminToken: ADMIN_TOKEN },
  });
}

beforeAll(async () => {
  [issuer, proxied] = await Promise.all([start(false, true), start(true, false)]);
  client = { base: issuer.url, now: () => Math.floor(clock() / 1000) };
  proxiedClient = { base: proxied.url, now: () => Math.floor(Date.now() / 1000) };
  did = await issuerDid(client);
}, 60_000);

afterAll(async () => {
  await Promise.all([issuer?.close(), proxied?.close()]);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const admin = (path: string, body?: unknown) =>
  fetch(`${issuer.url}/admin${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
const kccId = (kcc: string) => (decodeJwt(kcc).payload.vc as { id: string }).id;

describe('KYA token on Node: minting', () => {
  it('gives a KCC holder a token for their agent that jose verifies against the did:web document; creation_ip is the caller, not a spoofed X-Forwarded-For', async () => {
    const { holder, kcc } = await holderWithKcc(client);
    const agent = await Holder.create();
    const res = await postKya(
      client,
      {
        vp_token: await presentation(client, holder, [kcc]),
        aid: { name: 'Grocery reorder agent', source_ips: ['34.120.0.0/16', '2606:4700::-2606:4700::ffff', 'agents.bank-platform.com'] },
        cnf: { jwk: agent.signer.publicJwk },
        scope: 'purchase:groceries read:orders',
        apd: { id: 'platform-123', name: 'Agentic Platform', organization_name: 'Agentic Ltd' },
        hid_claims: ['country_of_residence', 'tier'],
      },
      { 'x-forwarded-for': '8.8.8.8' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.token_type).toBe('kya+jwt');
    expect(res.body.expires_in).toBe(15 * 60);

    const { payload, header } = await verifyWithJose(client, res.body.kya_token);
    expect(header.typ).toBe(KYA_TOKEN_TYP);
    expect(payload.iss).toBe(did);
    expect(payload.hid).toEqual({
      verified: true,
      verifier: issuer.url,
      verification_id: kccId(kcc),
      verification_status: (decodeJwt(kcc).payload.vc as { credentialStatus: unknown[] }).credentialStatus,
      country_of_residence: 'US',
      tier: 'Standard',
    });
    // The caller's address as the socket saw it: no proxy is trusted, so X-Forwarded-For is ignored.
    expect(payload.aid).toEqual({
      name: 'Grocery reorder agent',
      creation_ip: '127.0.0.1',
      source_ips: ['34.120.0.0/16', '2606:4700::-2606:4700::ffff', 'agents.bank-platform.com'],
    });
    expect(payload.apd).toEqual({ id: 'platform-123', name: 'Agentic Platform', organization_name: 'Agentic Ltd', verified: false });
    expect(payload.scope).toBe('purchase:groceries read:orders');
    expect(payload.cnf).toEqual({ jwk: agent.signer.publicJwk });
    expect(payload.exp! - payload.iat!).toBe(15 * 60);
    expect(payload.exp!).toBeLessThanOrEqual(decodeJwt(kcc).payload.exp as number);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.sub).toBeUndefined();

    // Recorded (audit and outbound event) without the agent's key, the token or the address.
    const audit = issuer.sqlite!.prepare("SELECT detail FROM audit_log WHERE action = 'kya.token_minted'").all() as { detail: string }[];
    const events = issuer.sqlite!.prepare("SELECT body FROM outbox_events WHERE type = 'kya.token_minted'").all() as { body: string }[];
    expect(audit.map((a) => JSON.parse(a.detail).jti)).toContain(payload.jti);
    expect(events.map((e) => JSON.parse(e.body).data.jti)).toContain(payload.jti);
    const recorded = [...audit.map((a) => a.detail), ...events.map((e) => e.body), ...logLines].join('\n');
    expect(recorded).toContain('kya_token_minted');
    expect(recorded).not.toContain(agent.signer.publicJwk.x);
    expect(recorded).not.toContain(res.body.kya_token.split('.')[2]);
  });

  it('behind TRUST_PROXY, creation_ip is the client address the proxy appended (the last X-Forwarded-For hop)', async () => {
    const { holder, kcc } = await holderWithKcc(proxiedClient);
    const agent = await Holder.create();
    const minted = await mintFor(proxiedClient, holder, kcc, agent, {}, { 'x-forwarded-for': '6.6.6.6, 9.9.9.9' });
    expect(decodeJwt(minted.kya_token).payload.aid).toMatchObject({ creation_ip: '9.9.9.9' });

    // Through a real reverse proxy that appends the peer it saw, as nginx's $proxy_add_x_forwarded_for
    // does: the client's own (spoofed) X-Forwarded-For entry is not what the token records.
    const proxy: Server = createServer((req, res) => {
      const upstream = new URL(proxied.url);
      const forwarded = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
      const out = httpRequest(
        { host: '127.0.0.1', port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-for': forwarded } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      req.pipe(out);
    });
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', () => ok()));
    try {
      const viaProxy: KyaClient = { ...proxiedClient, base: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` };
      const body = { vp_token: await presentation(proxiedClient, holder, [kcc]), aid: { name: 'Agent' }, cnf: { jwk: agent.signer.publicJwk } };
      const r = await postKya(viaProxy, body, { 'x-forwarded-for': '6.6.6.6' });
      expect(r.status).toBe(200);
      expect(decodeJwt(r.body.kya_token).payload.aid).toMatchObject({ creation_ip: '127.0.0.1' });
    } finally {
      await new Promise<void>((ok) => proxy.close(() => ok()));
    }
  });

  it('never outlives the KCC, and the agent proves possession to a merchant (our verifier and the CLI)', async () => {
    const { holder, kcc } = await holderWithKcc(client);
    const agent = await Holder.create();
    const minted = await mintFor(client, holder, kcc, agent);
    const ok = await merchantVerifies(client, did, minted.kya_token, agent);
    expect(ok.reasons).toEqual([]);
    expect(ok.principal).toMatchObject({ verified: true, verificationId: kccId(kcc), verifier: issuer.url });
    expect(ok.agent).toEqual({ name: 'Grocery reorder agent', creationIp: '127.0.0.1' });

    // Another key's proof, a proof for another request, no proof, another token's proof: refused.
    const request = { htm: 'POST', htu: 'https://shop.example/checkout' };
    const thief = await Holder.create();
    const options = merchantOptions(client, did);
    const stolen = await createAgentProof(thief.signer, { kyaToken: minted.kya_token, ...request, now: client.now() });
    expect((await verifyKyaToken(minted.kya_token, { ...options, agentProof: { proof: stolen, ...request } })).reasons.join()).toMatch(
      /key_binding: the proof is not made with the key the token binds/,
    );
    const elsewhere = await createAgentProof(agent.signer, { kyaToken: minted.kya_token, htm: 'GET', htu: request.htu, now: client.now() });
    expect((await verifyKyaToken(minted.kya_token, { ...options, agentProof: { proof: elsewhere, ...request } })).reasons.join()).toMatch(
      /the proof is for GET/,
    );
    expect((await verifyKyaToken(minted.kya_token, options)).reasons).toEqual([
      'key_binding: not checked: no proof from the agent (without one the token is a bearer token)',
    ]);
    const other = await mintFor(client, holder, kcc, agent);
    const forOther = await createAgentProof(agent.signer, { kyaToken: other.kya_token, ...request, now: client.now() });
    expect((await verifyKyaToken(minted.kya_token, { ...options, agentProof: { proof: forOther, ...request } })).reasons.join()).toMatch(
      /not for this token \(ath\)/,
    );
    // Expired after its short life; untrusted when the merchant trusts another PFI.
    expect((await verifyKyaToken(minted.kya_token, { ...options, now: client.now() + 16 * 60, requireAgentProof: false })).reasons.join()).toMatch(
      /dates: expired/,
    );
    expect(
      (await verifyKyaToken(minted.kya_token, { ...options, trustedIssuers: ['did:web:other.example'], requireAgentProof: false })).reasons.join(),
    ).toMatch(/issuer_trust/);

    // The CLI, over HTTP like a merchant's shell.
    const proof = await createAgentProof(agent.signer, { kyaToken: minted.kya_token, ...request, now: client.now() });
    const out: string[] = [];
    const code = await runCli(
      [
        'verify',
        '--kya',
        minted.kya_token,
        '--agent-proof',
        proof,
        '--htm',
        'POST',
        '--htu',
        request.htu,
        '--trusted-issuer',
        did,
        '--allow-http',
        '--now',
        new Date(clock()).toISOString(),
      ],
      {
        out: (l) => out.push(l),
        err: (l) => out.push(l),
        fetch: globalThis.fetch,
      },
    );
    expect(out.join('\n')).toMatch(/principal VERIFIED/);
    expect(out.join('\n').split('\n').pop()).toBe('VALID');
    expect(code).toBe(0);
  });

  it('ignores sub-claims it does not know (seed 002: recipients MUST ignore them)', async () => {
    const { kcc } = await holderWithKcc(client);
    const agent = await Holder.create();
    const now = client.now();
    const claims: KyaTokenClaims & Record<string, unknown> = {
      iss: did,
      iat: now,
      nbf: now,
      exp: now + 600,
      jti: crypto.randomUUID(),
      hid: {
        verified: true,
        verifier: issuer.url,
        verification_id: kccId(kcc),
        verification_status: (decodeJwt(kcc).payload.vc as { credentialStatus: unknown[] }).credentialStatus,
        loyalty_level: 'gold',
        nested: { a: 1 },
      },
      aid: { name: 'Agent', creation_ip: '8.8.8.8', model: 'x-large', source_ips: ['8.8.8.8'] } as KyaTokenClaims['aid'],
      apd: { id: 'p', verified: false, region: 'eu' },
      cnf: { jwk: agent.signer.publicJwk },
      future_claim: { anything: true },
    };
    const token = await signKyaToken(issuer.deps.issuer.signer, claims);
    const verdict = await merchantVerifies(client, did, token, agent);
    expect(verdict.reasons).toEqual([]);
    expect(verdict.ok).toBe(true);
  });
});

describe('KYA token on Node: refusals', () => {
  it('refuses without a KCC, with someone else’s or another issuer’s KCC, and a replayed or stale presentation', async () => {
    const { holder, kcc } = await holderWithKcc(client);
    const agent = await Holder.create();
    const jwk = agent.signer.publicJwk;
    const aid = { name: 'Agent' };

    const none = await postKya(client, { aid, cnf: { jwk } });
    expect(none.status).toBe(400);
    expect(none.body.error_description).toMatch(/vp_token/);
    const empty = await postKya(client, { vp_token: await presentation(client, holder, []), aid, cnf: { jwk } });
    expect(empty.status).toBe(400);
    expect(empty.body.error_description).toMatch(/exactly one KCC/);

    const mallory = await Holder.create();
    const theirs = await postKya(client, { vp_token: await presentation(client, mallory, [kcc]), aid, cnf: { jwk } });
    expect(theirs.status).toBe(403);
    expect(theirs.body.error).toBe('access_denied');
    expect(theirs.body.error_description).toMatch(/subject .* is not/);

    const foreign = await holderWithKcc(proxiedClient, holder);
    const notOurs = await postKya(client, { vp_token: await presentation(client, holder, [foreign.kcc]), aid, cnf: { jwk } });
    expect(notOurs.status).toBe(403);
    expect(notOurs.body.error_description).toMatch(/not trusted/);

    const body = { vp_token: await presentation(client, holder, [kcc]), aid, cnf: { jwk } };
    expect((await postKya(client, body)).status).toBe(200);
    const replay = await postKya(client, body);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_nonce');

    // Stale: signed long ago, or over a nonce that expired since.
    const old = await postKya(client, { ...body, vp_token: await presentation(client, holder, [kcc], { now: client.now() - 20 * 60 }) });
    expect(old.status).toBe(400);
    expect(old.body.error_description).toMatch(/too old|expired/);
    const nonce = await issuerNonce(client);
    clock.advance(6 * 60);
    const late = await postKya(client, { ...body, vp_token: await presentation(client, holder, [kcc], { nonce }) });
    expect(late.status).toBe(400);
    expect(late.body.error).toBe('invalid_nonce');

    // Another audience: the presentation was meant for someone else.
    const elsewhere = await postKya(client, { ...body, vp_token: await presentation(client, holder, [kcc], { audience: 'did:web:merchant.example' }) });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error_description).toMatch(/aud/);
  });

  it('one presentation mints one token, however many requests race with it', async () => {
    const { holder, kcc } = await holderWithKcc(client);
    const agent = await Holder.create();
    const body = { vp_token: await presentation(client, holder, [kcc]), aid: { name: 'Agent' }, cnf: { jwk: agent.signer.publicJwk } };
    const answers = await Promise.all(Array.from({ length: 25 }, () => postKya(client, body)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 400 && a.body.error === 'invalid_nonce')).toHaveLength(24);
  });

  it('a presentation that names the agent key (cnf.jkt) mints only for that key', async () => {
    const { holder, kcc } = await holderWithKcc(client);
    const [agent, other] = await Promise.all([Holder.create(), Holder.create()]);
    const jkt = await calculateJwkThumbprint(agent.signer.publicJwk);
    const boundVp = async () => {
      const now = client.now();
      return signJwt(
        holder.signer,
        {
          iss: holder.did,
          aud: did,
          nonce: await issuerNonce(client),
          iat: now,
          exp: now + 300,
          cnf: { jkt },
          vp: { '@context': ['https://www.w3.org/2018/credentials/v1'], type: ['VerifiablePresentation'], verifiableCredential: [kcc] },
        },
        { typ: 'JWT' },
      );
    };
    const swapped = await postKya(client, { vp_token: await boundVp(), aid: { name: 'Agent' }, cnf: { jwk: other.signer.publicJwk } });
    expect(swapped.status).toBe(400);
    expect(swapped.body.error_description).toMatch(/bound to another agent key/);
    const bound = await postKya(client, { vp_token: await boundVp(), aid: { name: 'Agent' }, cnf: { jwk: agent.signer.publicJwk } });
    expect(bound.status).toBe(200);
    const audit = issuer.sqlite!.prepare("SELECT detail FROM audit_log WHERE action = 'kya.token_minted'").all() as { detail: string }[];
    expect(audit.map((a) => JSON.parse(a.detail).agent_key_thumbprint)).toContain(jkt);
  });

  it('names each malformed source_ips entry, and refuses what the holder may not set', async () => {
    const { holder, kcc } = await holderWithKcc(client);
    const agent = await Holder.create();
    const base = async () => ({ vp_token: await presentation(client, holder, [kcc]), cnf: { jwk: agent.signer.publicJwk } });
    const bad = await postKya(client, {
      ...(await base()),
      aid: { name: 'Agent', source_ips: ['8.8.8.8', '10.0.0.1', 'not a host!', '8.8.8.8/33', '8.8.8.9-8.8.8.1'] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_request');
    expect(bad.body.problems).toEqual([
      'aid.source_ips: "10.0.0.1": not a public address (private, loopback, link-local, documentation or other special-purpose range)',
      'aid.source_ips: "not a host!": not an IP address or DNS name (internationalised names must be given as A-labels, xn--…)',
      'aid.source_ips: "8.8.8.8/33": prefix length must be 0 to 32',
      'aid.source_ips: "8.8.8.9-8.8.8.1": start is after end',
    ]);
    for (const e of ['10.0.0.1', 'not a host!', '8.8.8.8/33', '8.8.8.9-8.8.8.1']) expect(bad.body.error_description).toContain(e);

    const spoof = await postKya(client, { ...(await base()), aid: { name: 'Agent', creation_ip: '8.8.8.8' } });
    expect(spoof.status).toBe(400);
    expect(spoof.body.error_description).toMatch(/aid.creation_ip: not accepted from the holder/);
    const names = await postKya(client, { ...(await base()), aid: { name: 'Agent' }, hid_claims: ['given_name', 'email'] });
    expect(names.status).toBe(400);
    expect(names.body.error_description).toMatch(
      /given_name: not held by this issuer \(the issuer keeps names only for its own review and erases them after the retention period/,
    );
    expect(names.body.error_description).toMatch(/email: not held by this issuer/);
    const privateKey = await postKya(client, { ...(await base()), aid: { name: 'Agent' }, cnf: { jwk: agent.privateJwk } });
    expect(privateKey.status).toBe(400);
    expect(privateKey.body.error_description).toMatch(/cnf.jwk: a private key was sent/);
    expect(JSON.stringify(privateKey.body)).not.toContain(agent.privateJwk.d);
    const apdVerified = await postKya(client, { ...(await base()), aid: { name: 'Agent' }, apd: { id: 'p', verified: true } });
    expect(apdVerified.status).toBe(400);
    expect(apdVerified.body.error_description).toMatch(/apd/);
    const noName = await postKya(client, { ...(await base()), aid: {} });
    expect(noName.status).toBe(400);
    expect(noName.body.error_description).toMatch(/aid.name/);
  });

  it('refuses oversize bodies with the app’s limit (413), declared or chunked', async () => {
    const big = JSON.stringify({ aid: { name: 'A' }, padding: 'x'.repeat(70 * 1024) });
    expect((await postKya(client, big)).status).toBe(413);
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const chunked = await fetch(`${client.base}/kya/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });
});

describe('KYA token on Node: the KCC’s life', () => {
  it('a suspended or revoked KCC mints nothing; after revocation the verifier reports the principal no longer verified', async () => {
    const { holder, kcc } = await holderWithKcc(client);
    const agent = await Holder.create();
    const minted = await mintFor(client, holder, kcc, agent);
    const id = encodeURIComponent(kccId(kcc));

    expect((await admin(`/credentials/${id}/status`, { action: 'suspend', reason: 'review' })).status).toBe(200);
    const suspended = await postKya(client, {
      vp_token: await presentation(client, holder, [kcc]),
      aid: { name: 'Agent' },
      cnf: { jwk: agent.signer.publicJwk },
    });
    expect(suspended.status).toBe(403);
    expect(suspended.body.error_description).toMatch(/suspended/);
    expect((await admin(`/credentials/${id}/status`, { action: 'reinstate' })).status).toBe(200);
    await mintFor(client, holder, kcc, agent);

    expect((await admin(`/credentials/${id}/status`, { action: 'revoke', reason: 'lost device' })).status).toBe(200);
    const revoked = await postKya(client, {
      vp_token: await presentation(client, holder, [kcc]),
      aid: { name: 'Agent' },
      cnf: { jwk: agent.signer.publicJwk },
    });
    expect(revoked.status).toBe(403);
    expect(revoked.body.error_description).toMatch(/revoked/);

    // The token minted before is still in its few minutes, but its principal is no longer verified.
    const verdict = await merchantVerifies(client, did, minted.kya_token, agent);
    expect(verdict.ok).toBe(false);
    expect(verdict.principal).toMatchObject({ verified: false, verificationId: kccId(kcc) });
    expect(verdict.reasons).toEqual([`principal: no longer verified: the verification ${kccId(kcc)} is revoked`]);
    const out: string[] = [];
    const code = await runCli(
      ['verify', '--kya', minted.kya_token, '--no-agent-proof', '--trusted-issuer', did, '--allow-http', '--now', new Date(clock()).toISOString()],
      { out: (l) => out.push(l), err: (l) => out.push(l), fetch: globalThis.fetch },
    );
    expect(code).toBe(1);
    expect(out.join('\n')).toMatch(/principal NOT VERIFIED/);
    expect(out.join('\n')).toMatch(/revoked/);
  });

  it('an expired KCC mints nothing (last: moves the clock a year on)', async () => {
    const { holder, kcc } = await holderWithKcc(client);
    const agent = await Holder.create();
    // A token minted near the KCC's end ends with it.
    const kccExp = decodeJwt(kcc).payload.exp as number;
    clock.advance(kccExp - client.now() - 120);
    const last = await mintFor(client, holder, kcc, agent);
    expect(decodeJwt(last.kya_token).payload.exp).toBe(kccExp);
    expect(last.expires_in).toBe(120);
    clock.advance(180);
    const expired = await postKya(client, {
      vp_token: await presentation(client, holder, [kcc]),
      aid: { name: 'Agent' },
      cnf: { jwk: agent.signer.publicJwk },
    });
    expect(expired.status).toBe(403);
    expect(expired.body.error_description).toMatch(/expired/);
  });
});
