import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { DIDDocument } from 'did-resolver';
import { decodeDidDhtPacket, encodeDidDhtPacket, jwkThumbprint, type PublicJwk } from '../../src/did/dht.js';
import { DNS_CLASS_IN, DNS_TYPE_TXT, decodeDnsPacket, encodeDnsPacket, encodeTxtData, joinTxt, type DnsRecord } from '../../src/did/dnsPacket.js';

/** The did:dht specification's test vectors (test/fixtures/README.md). */
interface Vector {
  name: string;
  keys: Record<string, PublicJwk>;
  didDocument: DIDDocument;
  dnsRecords: Array<{ name: string; type: 'TXT' | 'NS'; ttl: number; rdata: string }>;
}
const { vectors } = JSON.parse(readFileSync(new URL('../fixtures/did-dht-spec-vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] };
const byName = (n: string) => vectors.find((v) => v.name === n)!;

const DNS_TYPE_NS = 2;
function nameBytes(name: string): Uint8Array {
  const labels = name
    .replace(/\.$/, '')
    .split('.')
    .map((l) => new TextEncoder().encode(l));
  return Uint8Array.from([...labels.flatMap((l) => [l.length, ...l]), 0]);
}

/**
 * The vector's table as a DNS packet. The table prints a TXT value longer than 255 bytes as its
 * character-strings separated by a space (vector 3's `_s0`: 255 bytes, a space, the rest), so a
 * space there is a string boundary (RFC 1035 §3.3.14), not part of the value.
 */
function packetOf(v: Vector): Uint8Array {
  const answers: DnsRecord[] = v.dnsRecords.map((r) =>
    r.type === 'NS'
      ? { name: r.name, type: DNS_TYPE_NS, class: DNS_CLASS_IN, ttl: r.ttl, data: nameBytes(r.rdata) }
      : { name: r.name, type: DNS_TYPE_TXT, class: DNS_CLASS_IN, ttl: r.ttl, data: encodeTxtData(r.rdata.split(' ')) },
  );
  return encodeDnsPacket({ answers });
}

/** A single service endpoint is decoded as a string (DID Core §5.4 allows either; the DNS form cannot tell). */
function endpointsAsArrays(doc: DIDDocument): DIDDocument {
  if (!doc.service) return doc;
  return { ...doc, service: doc.service.map((s) => ({ ...s, serviceEndpoint: Array.isArray(s.serviceEndpoint) ? s.serviceEndpoint : [s.serviceEndpoint] })) };
}

/**
 * Erratum in vector 2: its `_k1` record carries `id=sig`, so the method is `#sig` (spec §"Read",
 * step 4.b.i), and the vector's document lists it as such, but its assertionMethod and
 * capabilityInvocation name it by its JWK thumbprint, the id it would have without `id=`.
 */
function vector2Corrected(): DIDDocument {
  const v = byName('Vector 2');
  const secp = v.keys['secp256k1 Public Key JWK']!;
  const thumbprintId = `${v.didDocument.id}#${jwkThumbprint(secp)}`;
  const sigId = `${v.didDocument.id}#sig`;
  const fix = (refs?: DIDDocument['assertionMethod']) => refs?.map((r) => (r === thumbprintId ? sigId : r));
  expect(v.didDocument.assertionMethod).toContain(thumbprintId);
  return { ...v.didDocument, assertionMethod: fix(v.didDocument.assertionMethod), capabilityInvocation: fix(v.didDocument.capabilityInvocation) };
}

function txtOf(packet: Uint8Array): Map<string, string> {
  return new Map(
    decodeDnsPacket(packet)
      .answers.filter((a) => a.type === DNS_TYPE_TXT)
      .map((a) => [a.name, joinTxt(a)]),
  );
}

describe('did:dht specification test vectors', () => {
  it('vector 1: a _k0 record without id is the Identity Key #0', () => {
    const v = byName('Vector 1');
    expect(v.dnsRecords.find((r) => r.name === '_k0._did.')!.rdata).not.toContain('id=');
    expect(decodeDidDhtPacket(v.didDocument.id, packetOf(v))).toEqual(v.didDocument);
  });

  it('vector 2: an explicit id, a controller, aka, a multi-endpoint service; NS and _typ records are ignored', () => {
    const v = byName('Vector 2');
    expect(decodeDidDhtPacket(v.didDocument.id, packetOf(v))).toEqual(vector2Corrected());
  });

  it('vector 3: a key without id is named by its RFC 7638 thumbprint; a non-default alg; a 341-byte endpoint', () => {
    const v = byName('Vector 3');
    const x25519 = v.keys['X25519 Public Key JWK']!;
    expect(jwkThumbprint(x25519)).toBe(x25519.kid);
    const doc = decodeDidDhtPacket(v.didDocument.id, packetOf(v));
    expect(endpointsAsArrays(doc)).toEqual(v.didDocument);
    expect(doc.keyAgreement).toEqual([`${v.didDocument.id}#${x25519.kid}`]);
  });

  it('encodes each vector document to the vector TXT records (ids and default algs left out)', () => {
    for (const [v, doc] of [
      [byName('Vector 1'), byName('Vector 1').didDocument],
      [byName('Vector 2'), vector2Corrected()],
      [byName('Vector 3'), byName('Vector 3').didDocument],
    ] as const) {
      const ours = txtOf(encodeDidDhtPacket(doc));
      const theirs = txtOf(packetOf(v));
      // We write neither gateways (NS), nor type indexes (_typ), nor a previous DID (_prv).
      for (const name of ['_typ._did', '_prv._did']) theirs.delete(name);
      expect(ours, v.name).toEqual(theirs);
      expect(endpointsAsArrays(decodeDidDhtPacket(doc.id, encodeDidDhtPacket(doc))), v.name).toEqual(doc);
    }
  });

  it('refuses a _k0 that is not the Identity Key or claims another id, and a later key claiming id 0', () => {
    const v = byName('Vector 2');
    const withRecord = (name: string, rdata: string): Vector => ({ ...v, dnsRecords: v.dnsRecords.map((r) => (r.name === name ? { ...r, rdata } : r)) });
    const k0 = v.dnsRecords.find((r) => r.name === '_k0._did.')!.rdata;
    const k1 = v.dnsRecords.find((r) => r.name === '_k1._did.')!.rdata;
    expect(() => decodeDidDhtPacket(v.didDocument.id, packetOf(withRecord('_k0._did.', `id=sig;${k0}`)))).toThrow(/id 0/);
    expect(() => decodeDidDhtPacket(v.didDocument.id, packetOf(withRecord('_k0._did.', k1.replace('id=sig;', ''))))).toThrow(/Identity Key/);
    expect(() => decodeDidDhtPacket(v.didDocument.id, packetOf(withRecord('_k1._did.', k1.replace('id=sig', 'id=0'))))).toThrow(/id 0/);
  });
});
