import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import kccSchema from '../../schemas/kcc.schema.json';
import type { SchemaValidator } from './verifyCredential';

/**
 * The KCC JSON schema (schemas/kcc.schema.json, the same as TBD's vc.schemas.host/kcc.schema.json)
 * as a validator of the `vc` object. Uses ajv, which compiles to code: fine on Node (the verifier
 * CLI, relying parties); the Workers issuer never imports this module.
 */
export function createKccSchemaValidator(): SchemaValidator {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(kccSchema);
  return (vc) => {
    if (validate(vc)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
  };
}
