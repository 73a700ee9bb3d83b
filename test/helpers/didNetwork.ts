import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Resolver, type DIDDocument, type DIDResolver } from 'did-resolver';
import { createDidDhtResolver } from '../../src/did/dht';
import { createDidJwkResolver } from '../../src/did/jwk';
import { createDidKeyResolver } from '../../src/did/key';
import { createDidResolver } from '../../src/did/resolver';
import { didWebDocumentUrl, type Fetch } from '../../src/wallet/client';
import { Holder, type HolderDidMethod } from '../../src/wallet/holder';
import type { JwsAlgorithm } from '../../src/crypto/keys';

/**
 * A loopback "DID network" for tests: one HTTP server on 127.0.0.1 that is a Pkarr relay
 * (`PUT/GET /relay/<z-base-32 id>`, storing signed BEP44 bodies as a relay does) and a
 * did:web host (`GET /<path>/did.json` for documents the test registers). Nothing leaves
 * the machine.
 */
export async function startDidNetwork() {
  const relay = new Map<string, Uint8Array>();
  const webDocs = new Map<string, unknown>();
  /** Every path requested, so a test can show that a refused DID was never fetched. */
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    hits.push(path);
    if (path.startsWith('/relay/')) {
      const id = path.slice('/relay/'.length);
      if (req.method === 'PUT') {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          relay.set(id, new Uint8Array(Buffer.concat(chunks)));
          res.writeHead(204).end();
        });
        return;
      }
      const body = relay.get(id);
      if (!body) return void res.writeHead(404).end();
      return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    }
    const doc = webDocs.get(path);
    if (!doc) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/did+json' }).end(JSON.stringify(doc));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  const relayUrl = `${origin}/relay`;
  let n = 0;

  return {
    port,
    origin,
    relayUrl,
    relay,
    webDocs,
    hits,
    /** A holder of `method` with `alg`, published (did:dht) or served (did:web) here. */
    async holder(method: HolderDidMethod, alg: JwsAlgorithm, options: { host?: string } = {}): Promise<Holder> {
      const didWebUrl = `http://${options.host ?? '127.0.0.1'}:${port}/holders/h${++n}`;
      const holder = await Holder.create({ method, alg, didWebUrl: method === 'web' ? didWebUrl : undefined });
      if (method === 'web') webDocs.set(`${new URL(didWebUrl).pathname}/did.json`, holder.didDocument);
      if (method === 'dht') await holder.publishDidDht(relayUrl, globalThis.fetch);
      return holder;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

export type DidNetwork = Awaited<ReturnType<typeof startDidNetwork>>;

/** The wallet's resolver for PFI DIDs: did:jwk, did:key and did:dht through the loopback relay. */
export function walletResolver(relayUrl: string) {
  return createDidResolver({
    registry: { ...createDidJwkResolver(), ...createDidKeyResolver(), ...createDidDhtResolver({ gatewayUrl: relayUrl, fetch: globalThis.fetch }) },
    cacheTtlMs: 0,
  });
}

/**
 * A DIF did-resolver `Resolver` for the independent verifier (did-jwt / did-jwt-vc), fed
 * our documents: did:web from the issuer app (through `fetch`), did:dht from the relay,
 * did:jwk / did:key computed. did-jwt 8 predates the `JsonWebKey` verification method type
 * that did:dht uses (Controlled Identifiers 1.0; same `publicKeyJwk` as JsonWebKey2020), so
 * that type name is mapped to JsonWebKey2020 — the key material is untouched.
 */
export function independentResolver(fetchForWeb: Fetch, relayUrl: string): Resolver {
  const dht = createDidDhtResolver({ gatewayUrl: relayUrl, fetch: globalThis.fetch }).dht;
  const web: DIDResolver = async (did) => {
    const res = await fetchForWeb(didWebDocumentUrl(did));
    if (!res.ok) return { didResolutionMetadata: { error: 'notFound' }, didDocument: null, didDocumentMetadata: {} };
    return { didResolutionMetadata: {}, didDocument: (await res.json()) as DIDDocument, didDocumentMetadata: {} };
  };
  const dhtForDidJwt: DIDResolver = async (did, parsed, resolver, options) => {
    const r = await dht(did, parsed, resolver, options);
    if (!r.didDocument) return r;
    const verificationMethod = r.didDocument.verificationMethod?.map((vm) => (vm.type === 'JsonWebKey' ? { ...vm, type: 'JsonWebKey2020' } : vm));
    return { ...r, didDocument: { ...r.didDocument, verificationMethod } };
  };
  return new Resolver({ ...createDidJwkResolver(), ...createDidKeyResolver(), web, dht: dhtForDidJwt });
}
