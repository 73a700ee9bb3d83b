/**
 * did:dht (DID DHT Method Specification, v0): resolution through a Pkarr
 * relay/gateway and the pure publishing side (document → DNS packet → signed
 * BEP44 relay body). Web APIs only; fetch and clock are injected.
 */
import type { DIDDocument, DIDResolutionResult, DIDResolver, Service, VerificationMethod } from 'did-resolver';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { p256 } from '@noble/curves/nist.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url';
import { zbase32Decode, zbase32Encode } from './zbase32.js';
import { BEP44_MAX_V, parseBep44Body, verifyBep44 } from './bep44.js';
import { DNS_TYPE_TXT, decodeDnsPacket, encodeDnsPacket, joinTxt, txtRecord, type DnsRecord } from './dnsPacket.js';
import { readBodyCapped, resolutionError, withTimeout } from './web.js';

export { signBep44 } from './bep44.js';

/** did:dht spec §"DIDs as DNS Records": records SHOULD use a TTL of 7200 s. */
const TTL = 7200;
/** Relay body: 64-byte signature + 8-byte seq + v (≤ 1000 bytes). */
const MAX_RELAY_BODY = 64 + 8 + BEP44_MAX_V;
/** Refuse seq (µs timestamp) more than this far ahead of our clock. */
const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

export type DidDhtKeyType = 'Ed25519' | 'secp256k1' | 'P-256' | 'X25519';
/** did:dht spec §"Key Type Index". */
const KEY_TYPE_INDEX: Record<DidDhtKeyType, number> = { Ed25519: 0, secp256k1: 1, 'P-256': 2, X25519: 3 };
/** did:dht registry §"Key Type Index": the default `alg` of each key type (`a=` is written only when it differs). */
const DEFAULT_ALG: Record<DidDhtKeyType, string> = { Ed25519: 'EdDSA', secp256k1: 'ES256K', 'P-256': 'ES256', X25519: 'ECDH-ES+A256KW' };

export type DidDhtPurpose = 'authentication' | 'assertionMethod' | 'keyAgreement' | 'capabilityInvocation' | 'capabilityDelegation';
/** did:dht spec §"Root Record": relationship property names. */
const PURPOSE_KEYS: Array<[DidDhtPurpose, string]> = [
  ['authentication', 'auth'],
  ['assertionMethod', 'asm'],
  ['keyAgreement', 'agm'],
  ['capabilityInvocation', 'inv'],
  ['capabilityDelegation', 'del'],
];

export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y?: string;
  alg?: string;
  kid?: string;
}

const PREFIX = 'did:dht:';

/** did:dht spec §"Format": `did:dht:` + z-base-32(Ed25519 Identity Key). */
export function didDhtFromPublicKey(identityPublicKey: Uint8Array): string {
  if (identityPublicKey.byteLength !== 32) throw new RangeError('Identity Key must be a 32-byte Ed25519 public key');
  return PREFIX + zbase32Encode(identityPublicKey);
}

/** The 32-byte identity key of a did:dht DID (or its method-specific id). Throws if malformed. */
export function didDhtIdentityKey(didOrId: string): Uint8Array {
  const id = didOrId.startsWith(PREFIX) ? didOrId.slice(PREFIX.length) : didOrId;
  if (id.length !== 52) throw new Error('did:dht identifier must be 52 z-base-32 characters');
  const key = zbase32Decode(id);
  if (key.byteLength !== 32) throw new Error('did:dht identifier must encode 32 bytes');
  ed25519.Point.fromBytes(key); // must be a valid curve point
  return key;
}

function keyTypeOf(jwk: PublicJwk): DidDhtKeyType {
  if (jwk.kty === 'OKP' && (jwk.crv === 'Ed25519' || jwk.crv === 'X25519')) return jwk.crv;
  if (jwk.kty === 'EC' && (jwk.crv === 'secp256k1' || jwk.crv === 'P-256')) return jwk.crv;
  throw new Error(`unsupported key type ${jwk.kty}/${jwk.crv}`);
}

/** JWK → did:dht key bytes: raw 32 bytes for OKP, SEC1 compressed point for EC (spec §"Key Type Index"). */
export function jwkToKeyBytes(jwk: PublicJwk): Uint8Array {
  const t = keyTypeOf(jwk);
  const x = base64urlDecode(jwk.x);
  if (t === 'Ed25519' || t === 'X25519') {
    if (x.byteLength !== 32) throw new Error(`${t} key must be 32 bytes`);
    return x;
  }
  if (!jwk.y) throw new Error('EC JWK requires y');
  const y = base64urlDecode(jwk.y);
  if (x.byteLength !== 32 || y.byteLength !== 32) throw new Error('EC coordinates must be 32 bytes');
  const uncompressed = new Uint8Array(65);
  uncompressed[0] = 4;
  uncompressed.set(x, 1);
  uncompressed.set(y, 33);
  const curve = t === 'secp256k1' ? secp256k1 : p256;
  return curve.Point.fromBytes(uncompressed).toBytes(true); // validates the point
}

/** did:dht key bytes → public JWK. */
export function keyBytesToJwk(type: DidDhtKeyType, key: Uint8Array): PublicJwk {
  if (type === 'Ed25519' || type === 'X25519') {
    if (key.byteLength !== 32) throw new Error(`${type} key must be 32 bytes`);
    if (type === 'Ed25519') ed25519.Point.fromBytes(key);
    return { kty: 'OKP', crv: type, x: base64urlEncode(key) };
  }
  const curve = type === 'secp256k1' ? secp256k1 : p256;
  const full = curve.Point.fromBytes(key).toBytes(false);
  return { kty: 'EC', crv: type, x: base64urlEncode(full.subarray(1, 33)), y: base64urlEncode(full.subarray(33, 65)) };
}

/**
 * The JWK as a did:dht document carries it (spec §"Representing Keys", test vectors): `kid` is the
 * verification method's fragment and `alg` the key's algorithm, the registry default if none is given.
 */
function canonicalJwk(jwk: PublicJwk, fragment: string): PublicJwk {
  const out: PublicJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
  if (jwk.y !== undefined) out.y = jwk.y;
  out.alg = jwk.alg ?? DEFAULT_ALG[keyTypeOf(jwk)];
  out.kid = fragment;
  return out;
}

/** RFC 7638 §3.2: SHA-256 over the required members in lexicographic order, base64url. */
export function jwkThumbprint(jwk: PublicJwk): string {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return base64urlEncode(sha256(new TextEncoder().encode(JSON.stringify(members))));
}

function fragmentOf(id: string): string {
  const i = id.indexOf('#');
  return i >= 0 ? id.slice(i + 1) : id;
}

// ---------- document creation ----------

export interface DidDhtVerificationMethodInput {
  /** Fragment (`sig`), `#sig` or a full DID URL. */
  id: string;
  type: DidDhtKeyType;
  publicKeyJwk: PublicJwk;
  /** Defaults to ['authentication', 'assertionMethod']. */
  purposes?: DidDhtPurpose[];
  controller?: string;
}

export interface DidDhtServiceInput {
  id: string;
  type: string;
  serviceEndpoint: string | string[];
}

export interface CreateDidDhtDocumentInput {
  identityPublicKey: Uint8Array;
  verificationMethods?: DidDhtVerificationMethodInput[];
  services?: DidDhtServiceInput[];
}

/**
 * Build a did:dht DID Document. The Identity Key is verification method `#0`
 * and, per spec §"Identity Key", is in authentication, assertionMethod,
 * capabilityInvocation and capabilityDelegation.
 */
export function createDidDhtDocument(input: CreateDidDhtDocumentInput): DIDDocument {
  const did = didDhtFromPublicKey(input.identityPublicKey);
  const vms: VerificationMethod[] = [
    { id: `${did}#0`, type: 'JsonWebKey', controller: did, publicKeyJwk: canonicalJwk(keyBytesToJwk('Ed25519', input.identityPublicKey), '0') },
  ];
  const rel: Record<DidDhtPurpose, string[]> = {
    authentication: [`${did}#0`],
    assertionMethod: [`${did}#0`],
    keyAgreement: [],
    capabilityInvocation: [`${did}#0`],
    capabilityDelegation: [`${did}#0`],
  };
  for (const vm of input.verificationMethods ?? []) {
    const frag = fragmentOf(vm.id);
    if (!frag || frag === '0' || vms.some((v) => v.id === `${did}#${frag}`)) throw new Error(`duplicate or invalid verification method id ${vm.id}`);
    if (keyTypeOf(vm.publicKeyJwk) !== vm.type) throw new Error(`JWK does not match type ${vm.type}`);
    jwkToKeyBytes(vm.publicKeyJwk); // validate
    const id = `${did}#${frag}`;
    vms.push({
      id,
      type: 'JsonWebKey',
      controller: vm.controller ?? did,
      publicKeyJwk: canonicalJwk(vm.publicKeyJwk, frag) as VerificationMethod['publicKeyJwk'],
    });
    for (const p of vm.purposes ?? ['authentication', 'assertionMethod']) rel[p].push(id);
  }
  const doc: DIDDocument = { id: did, verificationMethod: vms };
  for (const [p] of PURPOSE_KEYS) if (rel[p].length) doc[p] = rel[p];
  const services: Service[] = (input.services ?? []).map((s) => ({ id: `${did}#${fragmentOf(s.id)}`, type: s.type, serviceEndpoint: s.serviceEndpoint }));
  if (services.length) doc.service = services;
  return doc;
}

// ---------- DNS packet encoding (spec §"DIDs as DNS Records") ----------

function checkValue(v: string, what: string): string {
  if (/[;=]/.test(v)) throw new Error(`${what} must not contain ";" or "="`);
  return v;
}

/** Encode a did:dht DID Document as a DNS packet (the BEP44 `v`). */
export function encodeDidDhtPacket(doc: DIDDocument): Uint8Array {
  const did = doc.id;
  const id = did.slice(PREFIX.length);
  const identity = didDhtIdentityKey(did);
  const records: DnsRecord[] = [];
  const vmNames = new Map<string, string>();
  const vms = [...(doc.verificationMethod ?? [])];
  // The Identity Key (#0) goes first as k0.
  vms.sort((a, b) => Number(fragmentOf(b.id) === '0') - Number(fragmentOf(a.id) === '0'));
  const idVm = vms[0];
  if (!idVm || fragmentOf(idVm.id) !== '0') throw new Error('DID Document lacks the Identity Key #0');
  vms.forEach((vm, i) => {
    const jwk = vm.publicKeyJwk as PublicJwk | undefined;
    if (!jwk) throw new Error(`verification method ${vm.id} lacks publicKeyJwk`);
    const t = keyTypeOf(jwk);
    const bytes = jwkToKeyBytes(jwk);
    if (i === 0 && (t !== 'Ed25519' || base64urlEncode(bytes) !== base64urlEncode(identity))) {
      throw new Error('verification method #0 must be the Identity Key');
    }
    const name = `k${i}`;
    vmNames.set(vm.id, name);
    vmNames.set(`#${fragmentOf(vm.id)}`, name);
    // Spec §"Verification Methods": the id is omitted when a reader derives it (`0` for _k0, else
    // the JWK thumbprint), and `a` when it is the key type's default.
    const frag = fragmentOf(vm.id);
    let txt = i === 0 || frag === jwkThumbprint(jwk) ? '' : `id=${checkValue(frag, 'id')};`;
    txt += `t=${KEY_TYPE_INDEX[t]};k=${base64urlEncode(bytes)}`;
    if (jwk.alg && jwk.alg !== DEFAULT_ALG[t]) txt += `;a=${checkValue(jwk.alg, 'alg')}`;
    if (vm.controller && vm.controller !== did) txt += `;c=${checkValue(vm.controller, 'controller')}`;
    records.push(txtRecord(`_${name}._did.`, txt, TTL));
  });
  (doc.service ?? []).forEach((s, i) => {
    const eps = Array.isArray(s.serviceEndpoint) ? s.serviceEndpoint : [s.serviceEndpoint];
    const se = eps
      .map((e) => {
        if (typeof e !== 'string') throw new Error('only string service endpoints are supported');
        if (/[;,]/.test(e)) throw new Error('service endpoint must not contain ";" or ","');
        return e;
      })
      .join(',');
    records.push(txtRecord(`_s${i}._did.`, `id=${checkValue(fragmentOf(s.id), 'id')};t=${checkValue(s.type, 'type')};se=${se}`, TTL));
  });
  const ctrl = doc.controller === undefined ? [] : Array.isArray(doc.controller) ? doc.controller : [doc.controller];
  if (ctrl.length) records.push(txtRecord('_cnt._did.', ctrl.join(','), TTL));
  if (doc.alsoKnownAs?.length) records.push(txtRecord('_aka._did.', doc.alsoKnownAs.join(','), TTL));

  // Root record: v=0;vm=...;auth=...;asm=...;agm=...;inv=...;del=...;svc=...
  const root = ['v=0'];
  if (vms.length) root.push(`vm=${vms.map((_, i) => `k${i}`).join(',')}`);
  for (const [purpose, key] of PURPOSE_KEYS) {
    const refs = doc[purpose] ?? [];
    if (!refs.length) continue;
    const names = refs.map((r) => {
      const ref = typeof r === 'string' ? r : r.id;
      const n = vmNames.get(ref) ?? vmNames.get(`#${fragmentOf(ref)}`);
      if (!n) throw new Error(`${purpose} references unknown or embedded method ${ref}`);
      return n;
    });
    root.push(`${key}=${names.join(',')}`);
  }
  if (doc.service?.length) root.push(`svc=${doc.service.map((_, i) => `s${i}`).join(',')}`);
  records.unshift(txtRecord(`_did.${id}.`, root.join(';'), TTL));
  const packet = encodeDnsPacket({ answers: records });
  if (packet.byteLength > BEP44_MAX_V) throw new RangeError(`DNS packet is ${packet.byteLength} bytes; BEP44 allows ${BEP44_MAX_V}`);
  return packet;
}

// ---------- DNS packet decoding ----------

function parseProps(txt: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of txt.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`malformed property "${part}"`);
    const k = part.slice(0, eq);
    if (m.has(k)) throw new Error(`duplicate property "${k}"`);
    m.set(k, part.slice(eq + 1));
  }
  return m;
}

function list(v: string | undefined): string[] {
  return v ? v.split(',').filter((x) => x !== '') : [];
}

/** Decode a did:dht DNS packet into the DID Document for `did`. Throws on any inconsistency. */
export function decodeDidDhtPacket(did: string, packet: Uint8Array): DIDDocument {
  const id = did.slice(PREFIX.length);
  const identity = didDhtIdentityKey(did);
  const msg = decodeDnsPacket(packet);
  const txt = new Map<string, string>();
  for (const rec of msg.answers) {
    if (rec.type !== DNS_TYPE_TXT) continue;
    const name = rec.name.toLowerCase().replace(/\.$/, '');
    // Record names may be relative (`_k0._did`) or carry the id suffix (`_k0._did.<id>`).
    const rel = name.endsWith(`.${id}`) && name !== `_did.${id}` ? name.slice(0, -(id.length + 1)) : name;
    if (txt.has(rel)) throw new Error(`duplicate record ${rel}`);
    txt.set(rel, joinTxt(rec));
  }
  const rootTxt = txt.get(`_did.${id}`);
  if (rootTxt === undefined) {
    const other = [...txt.keys()].find((k) => /^_did\.[a-z0-9]{52}$/.test(k));
    throw new Error(other ? `root record is for a different identifier (${other})` : 'missing _did root record');
  }
  const root = parseProps(rootTxt);
  if (root.get('v') !== '0') throw new Error(`unsupported did:dht version ${root.get('v')}`);

  const doc: DIDDocument = { id: did };
  const byName = new Map<string, string>();
  const vms: VerificationMethod[] = [];
  for (const kName of list(root.get('vm'))) {
    if (!/^k\d+$/.test(kName)) throw new Error(`bad vm reference ${kName}`);
    const v = txt.get(`_${kName}._did`);
    if (v === undefined) throw new Error(`missing record for ${kName}`);
    const p = parseProps(v);
    const tIdx = Number(p.get('t'));
    const type = (Object.keys(KEY_TYPE_INDEX) as DidDhtKeyType[]).find((k) => KEY_TYPE_INDEX[k] === tIdx);
    const k = p.get('k');
    if (!type || !k) throw new Error(`incomplete key record ${kName}`);
    const jwk = keyBytesToJwk(type, base64urlDecode(k));
    // Spec §"Read" step 4: _k0 is the Identity Key with id 0; any other key's id is its `id`
    // property, or else its JWK thumbprint (RFC 7638). `id` is optional, and web5 omits it.
    const given = p.get('id');
    if (given === '') throw new Error(`empty id in key record ${kName}`);
    let vmFrag: string;
    if (kName === 'k0') {
      if (given !== undefined && given !== '0') throw new Error('the Identity Key _k0 must have id 0');
      if (type !== 'Ed25519' || jwk.x !== base64urlEncode(identity)) throw new Error('_k0 is not the Identity Key');
      vmFrag = '0';
    } else {
      vmFrag = given ?? jwkThumbprint(jwk);
      if (vmFrag === '0') throw new Error(`${kName} claims the Identity Key's id 0`);
    }
    jwk.alg = p.get('a') || DEFAULT_ALG[type];
    jwk.kid = vmFrag;
    const vmId = `${did}#${vmFrag}`;
    if (vms.some((x) => x.id === vmId)) throw new Error(`duplicate verification method ${vmId}`);
    vms.push({ id: vmId, type: 'JsonWebKey', controller: p.get('c') ?? did, publicKeyJwk: jwk as VerificationMethod['publicKeyJwk'] });
    byName.set(kName, vmId);
  }
  // Spec §"Identity Key": it MUST be present, at _k0.
  if (!byName.has('k0')) throw new Error('Identity Key _k0 missing');
  doc.verificationMethod = vms;
  for (const [purpose, key] of PURPOSE_KEYS) {
    const refs = list(root.get(key)).map((n) => {
      const ref = byName.get(n);
      if (!ref) throw new Error(`${key} references unknown ${n}`);
      return ref;
    });
    if (refs.length) doc[purpose] = refs;
  }
  const services: Service[] = [];
  for (const sName of list(root.get('svc'))) {
    if (!/^s\d+$/.test(sName)) throw new Error(`bad svc reference ${sName}`);
    const v = txt.get(`_${sName}._did`);
    if (v === undefined) throw new Error(`missing record for ${sName}`);
    const p = parseProps(v);
    const sid = p.get('id');
    const type = p.get('t');
    const eps = list(p.get('se'));
    if (!sid || !type || !eps.length) throw new Error(`incomplete service record ${sName}`);
    services.push({ id: `${did}#${sid}`, type, serviceEndpoint: eps.length === 1 ? eps[0]! : eps });
  }
  if (services.length) doc.service = services;
  const cnt = list(txt.get('_cnt._did'));
  if (cnt.length) doc.controller = cnt.length === 1 ? cnt[0]! : cnt;
  const aka = list(txt.get('_aka._did'));
  if (aka.length) doc.alsoKnownAs = aka;
  return doc;
}

// ---------- resolution and publishing over a Pkarr relay ----------

export interface DidDhtResolverOptions {
  /** Pkarr relay / did:dht gateway base URL, e.g. https://diddht.tbddev.org */
  gatewayUrl: string;
  fetch: typeof fetch;
  /** Clock in ms since the epoch. */
  now?: () => number;
  /** Default 5000 ms. */
  timeoutMs?: number;
}

function relayUrl(gatewayUrl: string, id: string): string {
  return `${gatewayUrl.replace(/\/+$/, '')}/${id}`;
}

export function createDidDhtResolver(opts: DidDhtResolverOptions): { dht: DIDResolver } {
  const now = opts.now ?? (() => Date.now());
  const timeoutMs = opts.timeoutMs ?? 5000;
  const dht: DIDResolver = async (did, parsed): Promise<DIDResolutionResult> => {
    const baseDid = parsed?.did ?? did;
    if (!baseDid.startsWith(PREFIX)) return resolutionError('unsupportedDidMethod', 'not a did:dht DID');
    const id = baseDid.slice(PREFIX.length);
    let identity: Uint8Array;
    try {
      identity = didDhtIdentityKey(id);
    } catch (err) {
      return resolutionError('invalidDid', (err as Error).message);
    }
    let body: Uint8Array;
    try {
      body = await withTimeout(timeoutMs, async (signal) => {
        const res = await opts.fetch(relayUrl(opts.gatewayUrl, id), { method: 'GET', signal });
        if (!res.ok) {
          await res.body?.cancel().catch(() => {});
          throw Object.assign(new Error(`relay answered HTTP ${res.status}`), { status: res.status });
        }
        return readBodyCapped(res, MAX_RELAY_BODY);
      });
    } catch (err) {
      return resolutionError('notFound', `did:dht relay lookup failed: ${(err as Error).message}`);
    }
    let item: ReturnType<typeof parseBep44Body>;
    try {
      item = parseBep44Body(body);
    } catch (err) {
      return resolutionError('invalidDidDocument', (err as Error).message);
    }
    // BEP44: the signature must verify under the identifier's Identity Key.
    if (!verifyBep44(item, identity)) return resolutionError('invalidDidDocument', 'BEP44 signature does not verify with the Identity Key');
    if (item.seq > BigInt(Math.floor(now() + MAX_FUTURE_SKEW_MS)) * 1000n) {
      return resolutionError('invalidDidDocument', 'BEP44 seq is in the future');
    }
    try {
      const doc = decodeDidDhtPacket(baseDid, item.v);
      return {
        didResolutionMetadata: { contentType: 'application/did+json' },
        didDocument: doc,
        didDocumentMetadata: { versionId: item.seq.toString() },
      };
    } catch (err) {
      return resolutionError('invalidDidDocument', `invalid did:dht packet: ${(err as Error).message}`);
    }
  };
  return { dht };
}

/** PUT a signed relay body (from signBep44) for `did` to a Pkarr relay. Throws on non-2xx. */
export async function publishDidDht(input: { gatewayUrl: string; did: string; body: Uint8Array; fetch: typeof fetch }): Promise<void> {
  const id = input.did.startsWith(PREFIX) ? input.did.slice(PREFIX.length) : input.did;
  didDhtIdentityKey(id);
  const res = await input.fetch(relayUrl(input.gatewayUrl, id), {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: input.body.slice(), // copy: a Uint8Array<ArrayBuffer> is a valid BodyInit
  });
  await res.body?.cancel().catch(() => {});
  if (!res.ok) throw new Error(`did:dht publish failed: HTTP ${res.status}`);
}
