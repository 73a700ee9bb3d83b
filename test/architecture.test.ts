import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layering of ARCHITECTURE.md as rules (.dependency-cruiser.cjs): runtime → http →
 * issuance → protocol/did/crypto/store/idv/verifier → ports, no cycles, no hono below http,
 * node: built-ins only in runtime/ and the CLIs.
 */
const ROOT = new URL('..', import.meta.url).pathname;
const BIN = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

function cruise(cwd: string, config: string): Violation[] {
  const out = execFileSync(process.execPath, [BIN, 'src', '--config', config, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return (JSON.parse(out) as { summary: { violations: Violation[] } }).summary.violations;
}

describe('architecture', () => {
  it('src/ keeps its layers and has no import cycles', () => {
    const violations = cruise(ROOT, join(ROOT, '.dependency-cruiser.cjs'));
    expect(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  }, 60_000);

  it('the rules catch a use case importing HTTP, a cycle, hono in a use case and node: outside runtime', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-arch-'));
    try {
      mkdirSync(join(dir, 'src/issuance'), { recursive: true });
      mkdirSync(join(dir, 'src/http'), { recursive: true });
      mkdirSync(join(dir, 'node_modules/hono'), { recursive: true });
      writeFileSync(join(dir, 'node_modules/hono/package.json'), JSON.stringify({ name: 'hono', version: '0.0.0', main: 'index.js' }));
      writeFileSync(join(dir, 'node_modules/hono/index.js'), 'export const Hono = 1;\n');
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'ESNext', moduleResolution: 'Bundler' } }));
      writeFileSync(
        join(dir, 'src/issuance/useCase.ts'),
        "import { route } from '../http/route';\nimport { Hono } from 'hono';\nimport { readFileSync } from 'node:fs';\nexport const useCase = [route, Hono, readFileSync];\n",
      );
      writeFileSync(join(dir, 'src/http/route.ts'), "import { useCase } from '../issuance/useCase';\nexport const route = () => useCase;\n");
      copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, 'rules.cjs'));
      const names = new Set(cruise(dir, join(dir, 'rules.cjs')).map((v) => v.rule.name));
      expect(names).toEqual(new Set(['no-cycles', 'use-cases-below-http', 'use-cases-without-hono', 'node-modules-only-in-runtime']));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
