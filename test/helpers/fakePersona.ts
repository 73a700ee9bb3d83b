import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signTimestampedHmac } from '../../src/idv/webhookSignature';

/**
 * Persona's side, as a loopback HTTP server following its documented API: inquiries
 * (create with Idempotency-Key, one-time link, retrieve with included verifications) and
 * signed webhooks (`Persona-Signature: t=…,v1=…`) sent to the issuer.
 */
interface Inquiry {
  id: string;
  referenceId: string;
  status: string;
  country: string;
  checks: { type: string; status: string }[];
  decidedAt?: string;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakePersona(options: { apiKey: string; secrets: string[] }) {
  const inquiries = new Map<string, Inquiry>();
  const byIdempotencyKey = new Map<string, string>();
  const requests: { method: string; path: string; idempotencyKey?: string; traceparent?: string }[] = [];
  let failNextFetches = 0;
  let seq = 0;

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      idempotencyKey: req.headers['idempotency-key'] as string | undefined,
      traceparent: req.headers.traceparent as string | undefined,
    });
    if (req.headers.authorization !== `Bearer ${options.apiKey}`) return send(401, { errors: [{ title: 'Unauthorized' }] });
    const body = await readBody(req);
    if (req.method === 'POST' && url.pathname === '/api/v1/inquiries') {
      const key = req.headers['idempotency-key'] as string | undefined;
      const existing = key ? byIdempotencyKey.get(key) : undefined;
      if (existing) return send(201, inquiryDoc(inquiries.get(existing) as Inquiry));
      const attrs = JSON.parse(body).data.attributes;
      if (!attrs['inquiry-template-id']) return send(422, { errors: [{ title: 'template required' }] });
      const inquiry: Inquiry = { id: `inq_${++seq}abc`, referenceId: attrs['reference-id'], status: 'created', country: 'DE', checks: [] };
      inquiries.set(inquiry.id, inquiry);
      if (key) byIdempotencyKey.set(key, inquiry.id);
      return send(201, inquiryDoc(inquiry));
    }
    const link = /^\/api\/v1\/inquiries\/([\w-]+)\/generate-one-time-link$/.exec(url.pathname);
    if (req.method === 'POST' && link) {
      if (!inquiries.has(link[1])) return send(404, {});
      return send(200, {
        data: inquiryDoc(inquiries.get(link[1]) as Inquiry).data,
        meta: { 'one-time-link': `https://withpersona.example/verify?code=otl_${link[1]}` },
      });
    }
    const get = /^\/api\/v1\/inquiries\/([\w-]+)$/.exec(url.pathname);
    if (req.method === 'GET' && get) {
      if (failNextFetches > 0) {
        failNextFetches--;
        return send(503, { errors: [{ title: 'unavailable' }] });
      }
      const inquiry = inquiries.get(get[1]);
      if (!inquiry) return send(404, {});
      return send(200, inquiryDoc(inquiry));
    }
    send(404, {});
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const apiBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function inquiryDoc(i: Inquiry) {
    return {
      data: {
        type: 'inquiry',
        id: i.id,
        attributes: {
          status: i.status,
          'reference-id': i.referenceId,
          'created-at': '2026-11-23T12:00:00.000Z',
          'decided-at': i.decidedAt ?? null,
          fields: { 'address-country-code': { type: 'string', value: i.country } },
          tags: [],
        },
      },
      included: i.checks.map((c, n) => ({
        type: c.type,
        id: `ver_${n}`,
        attributes: { status: c.status, 'country-code': i.country, 'id-class': c.type === 'verification/government-id' ? 'pp' : undefined },
      })),
    };
  }

  return {
    apiBase,
    requests,
    inquiries,
    failNextFetches(n: number) {
      failNextFetches = n;
    },
    /** Sets the inquiry's state as Persona would after the applicant's steps. */
    update(id: string, change: Partial<Inquiry>) {
      Object.assign(inquiries.get(id) as Inquiry, change);
    },
    /** Builds a webhook event body for the inquiry (JSON:API, as documented). */
    eventBody(input: { eventId: string; name: string; inquiryId: string; createdAt: string; status?: string }) {
      const inquiry = inquiries.get(input.inquiryId) as Inquiry;
      const payload = inquiryDoc({ ...inquiry, status: input.status ?? inquiry.status });
      return JSON.stringify({
        data: { type: 'event', id: input.eventId, attributes: { name: input.name, 'created-at': input.createdAt, payload: { data: payload.data } } },
      });
    },
    /** Signs like Persona: one `t=…,v1=…` pair per active secret, space-separated during rotation. */
    async sign(body: string, t: number, secrets = options.secrets) {
      const pairs = await Promise.all(secrets.map((s) => signTimestampedHmac(s, new TextEncoder().encode(body), t)));
      return pairs.join(' ');
    },
    async deliver(webhookUrl: string, body: string, signature: string | undefined) {
      const res = await fetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(signature ? { 'persona-signature': signature } : {}) },
        body,
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
