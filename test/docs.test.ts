// Keeps the documentation honest: what the code reads, registers and accepts must be on the
// pages that describe it, and every relative link must lead somewhere.
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { commands } from '../packages/cli/src/commands.ts';
import { outboxUsage } from '../packages/cli/src/outbox/index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'test') out.push(...sources(path));
    } else if (entry.name.endsWith('.ts')) {
      out.push(path);
    }
  }
  return out;
}

const codeFiles = [...readdirSync(join(ROOT, 'packages')).flatMap((p) => sources(join('packages', p, 'src'))), ...sources('scripts'), 'test/support/database.ts'];

/** Keys of the zod environment schemas (`NAME: env.…`, `NAME: z.…`, `NAME: optional(…)`) and `process.env.NAME` reads. */
function environmentVariables(): Set<string> {
  const names = new Set<string>();
  for (const file of codeFiles) {
    const text = read(file);
    for (const m of text.matchAll(/\b([A-Z][A-Z0-9_]{2,}):\s*(?:env\.|z\.|optional\()/g)) names.add(m[1]!);
    for (const m of text.matchAll(/process\.env\.([A-Z][A-Z0-9_]*)/g)) names.add(m[1]!);
  }
  return names;
}

function metricNames(): Set<string> {
  const names = new Set<string>();
  for (const file of codeFiles) for (const m of read(file).matchAll(/name: '(relevo_[a-z0-9_]+)'/g)) names.add(m[1]!);
  return names;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+)$/gm)) {
    anchors.add(m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  return anchors;
}

const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('documentation', () => {
  it('docs/configuration.md names every environment variable the code reads', () => {
    const names = environmentVariables();
    expect(names.size).toBeGreaterThanOrEqual(40);
    const page = read('docs/configuration.md');
    expect([...names].filter((n) => !page.includes(`\`${n}\``)).sort()).toEqual([]);
  });

  it('docs/metrics.md names every metric the processes register', () => {
    const names = metricNames();
    expect(names.size).toBeGreaterThanOrEqual(13);
    const page = read('docs/metrics.md');
    expect([...names].filter((n) => !page.includes(`\`${n}\``)).sort()).toEqual([]);
  });

  it('the README or the runbook shows every relevo command and outbox subcommand', () => {
    const text = read('README.md') + read('docs/runbook.md');
    const top = commands.map((c) => c.name);
    const outbox = [...outboxUsage().matchAll(/^ {2}(\w+) /gm)].map((m) => m[1]!);
    expect(top.length).toBeGreaterThanOrEqual(6);
    expect(outbox.length).toBeGreaterThanOrEqual(8);
    const missing = [...top.map((c) => `relevo ${c}`), ...outbox.map((s) => `outbox ${s}`)].filter((c) => !text.includes(c));
    expect(missing).toEqual([]);
  });

  it('the README links every page under docs/', () => {
    const readme = read('README.md');
    expect(pages.filter((p) => p.startsWith('docs/') && !readme.includes(`](${p})`))).toEqual([]);
  });

  it.each(pages)('every relative link in %s leads to a file and heading that exist', (page) => {
    const text = read(page);
    const broken: string[] = [];
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1]!;
      if (/^[a-z]+:/.test(link)) continue;
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), path);
      if (!existsSync(target)) {
        broken.push(`${link} (no ${relative(ROOT, target)})`);
        continue;
      }
      if (anchor && statSync(target).isFile() && target.endsWith('.md') && !anchorsOf(readFileSync(target, 'utf8')).has(anchor)) {
        broken.push(`${link} (no heading #${anchor})`);
      }
    }
    expect(broken).toEqual([]);
  });
});
