import { Agent, request } from 'node:http';

/**
 * A small fetch for the load generator: node:http with a keep-alive agent (one socket per
 * concurrent flow). The reference wallet takes any fetch; this one costs the load generator far
 * less CPU than undici's, so on a 2-core machine more of the CPU goes to the server under test.
 * Plain http only, no streaming bodies, redirects returned as they are (the wallet asks for
 * `redirect: 'manual'` where it matters and follows the 303 itself).
 */
export function createHttpFetch(maxSockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets });
  return (input: string, init: RequestInit = {}): Promise<Response> =>
    new Promise((resolve, reject) => {
      const url = new URL(input);
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((v, k) => {
        headers[k] = v;
      });
      const body = typeof init.body === 'string' ? init.body : undefined;
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const req = request({ agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: init.method ?? 'GET', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (Array.isArray(v)) for (const x of v) h.append(k, x);
            else if (v !== undefined) h.set(k, v);
          }
          const status = res.statusCode ?? 500;
          const payload = status === 204 || status === 304 ? null : Buffer.concat(chunks);
          resolve(new Response(payload, { status, headers: h }));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
}
