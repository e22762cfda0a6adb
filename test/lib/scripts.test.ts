/**
 * The scripts package.json runs with `node --import tsx` (fixtures, schemas) load under the
 * pinned tsx: none starts with a shebang. With `#!/usr/bin/env -S node --import tsx` on its
 * first line, tsx 4.21 refused scripts/fixtures.ts ("Parse error scripts/fixtures.ts:2:113"),
 * so `npm run fixtures` regenerated nothing and the fixtures drifted from the code.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';

describe('scripts/*.ts run through node --import tsx', () => {
  it('none starts with a shebang (npm runs them; tsx 4.21 cannot parse fixtures.ts with one)', () => {
    const scripts = readdirSync(join(ROOT, 'scripts')).filter((f) => f.endsWith('.ts'));
    expect(scripts).toEqual(expect.arrayContaining(['fixtures.ts', 'fixtures-ecash.ts', 'schemas.ts']));
    for (const f of scripts) expect(readFileSync(join(ROOT, 'scripts', f), 'utf8').startsWith('#!'), f).toBe(false);
  });

  it('package.json runs each script it names with node --import tsx', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['fixtures']).toBe('node --import tsx scripts/fixtures.ts');
    expect(pkg.scripts['schemas']).toBe('node --import tsx scripts/schemas.ts');
  });
});
