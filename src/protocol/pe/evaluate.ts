import { z } from 'zod';
import { FilterError, matchesFilter } from './filter';
import { JsonPathError, queryJsonPath } from './jsonPath';

/**
 * DIF Presentation Exchange 2.0 evaluation, our own: a Presentation Definition's input
 * descriptors (constraints.fields with path + filter, optional fields, format) against
 * credentials, and a Presentation Submission (descriptor_map) against the definition,
 * including submission_requirements (rule all / pick with count, min, max; `from` groups).
 */
export interface FieldConstraint {
  id?: string;
  path: string[];
  filter?: Record<string, unknown>;
  optional?: boolean;
  purpose?: string;
  name?: string;
}

export interface InputDescriptor {
  id: string;
  name?: string;
  purpose?: string;
  group?: string[];
  format?: Record<string, { alg?: string[] }>;
  constraints?: { fields?: FieldConstraint[]; limit_disclosure?: string };
}

export interface SubmissionRequirement {
  name?: string;
  rule: 'all' | 'pick';
  count?: number;
  min?: number;
  max?: number;
  from?: string;
  from_nested?: SubmissionRequirement[];
}

export interface PresentationDefinition {
  id: string;
  name?: string;
  purpose?: string;
  format?: Record<string, { alg?: string[] }>;
  input_descriptors: InputDescriptor[];
  submission_requirements?: SubmissionRequirement[];
}

const DescriptorMapEntry: z.ZodType<DescriptorMapEntry> = z.lazy(() =>
  z.object({
    id: z.string().min(1).max(200),
    format: z.string().min(1).max(50),
    path: z.string().min(1).max(500),
    path_nested: DescriptorMapEntry.optional(),
  }),
);
export interface DescriptorMapEntry {
  id: string;
  format: string;
  path: string;
  path_nested?: DescriptorMapEntry;
}

const PresentationSubmissionWire = z.object({
  id: z.string().min(1).max(200),
  definition_id: z.string().min(1).max(200),
  descriptor_map: z.array(DescriptorMapEntry).max(20),
});
export type PresentationSubmission = z.infer<typeof PresentationSubmissionWire>;

export class PresentationExchangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PresentationExchangeError';
  }
}

/** Parses `presentation_submission` (an object, or its JSON text as form posts carry it). */
export function parsePresentationSubmission(value: unknown): PresentationSubmission {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw new PresentationExchangeError('presentation_submission is not JSON');
    }
  }
  const parsed = PresentationSubmissionWire.safeParse(v);
  if (!parsed.success) throw new PresentationExchangeError('presentation_submission is malformed');
  return parsed.data;
}

/** `jwt_vc` and `jwt_vc_json` name the same thing in PE 2.0 / OID4VP registries (likewise jwt_vp). */
export function formatFamily(format: string): 'jwt_vc' | 'jwt_vp' | string {
  if (format === 'jwt_vc' || format === 'jwt_vc_json') return 'jwt_vc';
  if (format === 'jwt_vp' || format === 'jwt_vp_json') return 'jwt_vp';
  return format;
}

function formatAllowed(allowed: Record<string, { alg?: string[] }> | undefined, format: string, alg: string | undefined): boolean {
  if (!allowed) return true;
  return Object.entries(allowed).some(([f, spec]) => formatFamily(f) === formatFamily(format) && (!spec?.alg || (alg !== undefined && spec.alg.includes(alg))));
}

export interface DescriptorResult {
  ok: boolean;
  reasons: string[];
}

/**
 * Does `credential` (the VC object, e.g. a jwt_vc's `vc` claim) satisfy the descriptor?
 * A field is satisfied when any of its paths selects a value that passes the filter (PE 2.0
 * §"Input Evaluation"); `payload` (the whole JWT claims) is tried when the VC object has no value.
 */
export function evaluateDescriptor(
  descriptor: InputDescriptor,
  credential: unknown,
  options: { format?: string; alg?: string; definitionFormat?: PresentationDefinition['format']; payload?: unknown } = {},
): DescriptorResult {
  const reasons: string[] = [];
  if (options.format && !formatAllowed(descriptor.format ?? options.definitionFormat, options.format, options.alg)) {
    reasons.push(`format ${options.format} with alg ${options.alg ?? 'none'} is not accepted by ${descriptor.id}`);
  }
  for (const field of descriptor.constraints?.fields ?? []) {
    let values: unknown[] = [];
    try {
      for (const path of field.path) {
        values = queryJsonPath(credential, path);
        if (values.length === 0 && options.payload !== undefined) values = queryJsonPath(options.payload, path);
        if (values.length > 0) break;
      }
      const ok = values.some((v) => matchesFilter(v, field.filter));
      if (!ok && !field.optional) {
        const filter = field.filter ? ` ${JSON.stringify(field.filter).slice(0, 160)}` : '';
        reasons.push(`${descriptor.id}: no value at ${field.path.join(' | ')} satisfies the filter${filter}`);
      }
    } catch (e) {
      if (e instanceof JsonPathError || e instanceof FilterError) reasons.push(`${descriptor.id}: ${e.message}`);
      else throw e;
    }
  }
  return { ok: reasons.length === 0, reasons };
}

/** A submitted credential as the caller located it through a descriptor_map entry. */
export interface SubmittedCredential {
  /** The VC object the field paths run against. */
  credential: unknown;
  /** Whole JWT claims, for paths written against them. */
  payload?: unknown;
  format: string;
  alg?: string;
}

export interface SubmissionResult {
  ok: boolean;
  reasons: string[];
  /** descriptor id → the credential that satisfied it. */
  matched: Map<string, SubmittedCredential>;
}

/**
 * Evaluates a Presentation Submission against its definition (PE 2.0 §"Presentation
 * Submission"): definition_id must match; each descriptor_map entry must name a descriptor of
 * the definition and `locate` must find a credential that satisfies it; then every descriptor
 * (or the submission_requirements) must be satisfied.
 */
export function evaluateSubmission(
  definition: PresentationDefinition,
  submission: PresentationSubmission,
  locate: (entry: DescriptorMapEntry) => SubmittedCredential,
): SubmissionResult {
  const reasons: string[] = [];
  const matched = new Map<string, SubmittedCredential>();
  if (submission.definition_id !== definition.id) {
    return { ok: false, reasons: [`presentation_submission.definition_id ${submission.definition_id} is not ${definition.id}`], matched };
  }
  const byId = new Map(definition.input_descriptors.map((d) => [d.id, d]));
  for (const entry of submission.descriptor_map) {
    const descriptor = byId.get(entry.id);
    if (!descriptor) {
      reasons.push(`descriptor_map names unknown input descriptor ${entry.id}`);
      continue;
    }
    let submitted: SubmittedCredential;
    try {
      submitted = locate(entry);
    } catch (e) {
      reasons.push(`${entry.id}: ${(e as Error).message}`);
      continue;
    }
    const result = evaluateDescriptor(descriptor, submitted.credential, {
      format: submitted.format,
      alg: submitted.alg,
      definitionFormat: definition.format,
      payload: submitted.payload,
    });
    if (result.ok) matched.set(entry.id, submitted);
    else reasons.push(...result.reasons);
  }
  const satisfied = new Set(matched.keys());
  if (definition.submission_requirements?.length) {
    for (const req of definition.submission_requirements) {
      if (!requirementMet(req, definition, satisfied)) reasons.push(`submission requirement ${req.name ?? req.from ?? ''} is not met`.trim());
    }
  } else {
    for (const d of definition.input_descriptors) if (!satisfied.has(d.id)) reasons.push(`input descriptor ${d.id} is not satisfied`);
  }
  return { ok: reasons.length === 0, reasons, matched };
}

function requirementMet(req: SubmissionRequirement, definition: PresentationDefinition, satisfied: Set<string>): boolean {
  let total: number;
  let met: number;
  if (req.from !== undefined) {
    const members = definition.input_descriptors.filter((d) => d.group?.includes(req.from as string));
    total = members.length;
    met = members.filter((d) => satisfied.has(d.id)).length;
  } else if (req.from_nested) {
    total = req.from_nested.length;
    met = req.from_nested.filter((n) => requirementMet(n, definition, satisfied)).length;
  } else return false;
  if (req.rule === 'all') return met === total;
  if (req.count !== undefined) return met >= req.count;
  if (req.min !== undefined && met < req.min) return false;
  // `max` bounds what may be submitted; more matches than max is still a satisfied pick of max.
  return met >= (req.min ?? 1);
}
