// The relay, the consumers and the CLI's outbox commands use @relevo/db's drizzle-free entry
// (`@relevo/db/sql`): each loads no drizzle-orm module, which would cost them ~0.3 s and
// ~60 MiB at start. The API does use drizzle, which shows the check can see it.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./support/loaded-modules.ts', import.meta.url));
const entry = (path: string) => fileURLToPath(new URL(`../packages/${path}`, import.meta.url));

function drizzleModules(module: string): string[] {
  const urls = JSON.parse(execFileSync(process.execPath, [script, module], { encoding: 'utf8' })) as string[];
  expect(urls.length).toBeGreaterThan(50);
  return urls.filter((u) => u.includes('/drizzle-orm/'));
}

describe('what each process entry loads', () => {
  it.each([
    ['relay', 'relay/src/index.ts'],
    ['consumers', 'consumers/src/index.ts'],
    ['outbox CLI', 'cli/src/outbox/index.ts'],
    ['audit CLI', 'cli/src/audit.ts'],
  ])('%s loads no drizzle-orm module', (_name, path) => {
    expect(drizzleModules(entry(path))).toEqual([]);
  });

  it('the API loads drizzle-orm (the check sees it)', () => {
    expect(drizzleModules(entry('api/src/index.ts')).length).toBeGreaterThan(10);
  });
});
