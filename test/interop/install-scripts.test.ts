import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * `npm ci` runs the install scripts that package.json's `allowScripts` allows and skips the
 * denied ones (npm 11). Denied: @sphereon/pex (every copy: ours, web5's, did-auth-siop's), whose
 * only install-time script is `npx only-allow pnpm`, which aborts any npm install and builds
 * nothing. This checks that every package with an install script is reviewed, and that the
 * denied ones indeed have nothing else to run.
 */
const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { allowScripts: Record<string, boolean> };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];

describe('install scripts', () => {
  const withScripts = Object.entries(lock.packages)
    .filter(([path, p]) => path !== '' && p.hasInstallScript)
    .map(([path]) => ({ path, name: path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length) }));

  it('every package with an install script is allowed or denied in package.json', () => {
    expect(withScripts.length).toBeGreaterThan(0);
    for (const { name } of withScripts) expect(pkg.allowScripts, name).toHaveProperty([name]);
    expect(pkg.allowScripts).toMatchObject({ 'better-sqlite3': true, workerd: true, '@sphereon/pex': false });
  });

  it('the denied packages have no install-time script besides the pnpm-only guard', () => {
    // cbor-extract (cbor-x's optional native decoder, under @owf/mdoc) is denied as well: its
    // install script only builds the native addon; without it cbor-x decodes in plain JavaScript,
    // as it must on Workers anyway.
    const denied = withScripts.filter(({ name }) => pkg.allowScripts[name] === false && name !== 'cbor-extract');
    expect(withScripts.filter(({ name }) => name === 'cbor-extract').map((d) => d.path)).toEqual(['node_modules/cbor-extract']);
    expect(JSON.parse(readFileSync(new URL('node_modules/cbor-extract/package.json', root), 'utf8')).scripts.install).toBe('node-gyp-build-optional-packages');
    expect(denied.map((d) => d.path).sort()).toEqual([
      'node_modules/@sphereon/did-auth-siop/node_modules/@sphereon/pex',
      'node_modules/@sphereon/pex',
      'node_modules/@web5/credentials/node_modules/@sphereon/pex',
    ]);
    for (const { path } of denied) {
      const scripts = (JSON.parse(readFileSync(new URL(`${path}/package.json`, root), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
      const installTime = Object.fromEntries(Object.entries(scripts).filter(([k]) => INSTALL_SCRIPTS.includes(k)));
      expect(installTime, path).toEqual({ preinstall: 'npx only-allow pnpm' });
    }
  });
});
