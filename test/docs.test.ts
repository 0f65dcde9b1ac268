// Keeps the documentation honest. Names are taken from the code itself wherever the code
// lets them be: the zod environment schemas are run against a recording environment, the
// metrics registries are built, the CLI's own argument parsers are run on every command
// line the pages show. A regex over the sources covers what is not reachable that way
// (the CLI's inline schemas, `process.env.X` reads) and is checked against the exact sets.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { loadConsumersConfig } from '@relevo/consumers';
import { loadRelayConfig } from '@relevo/relay';
import { parseEnv, TracingEnv } from '@relevo/runtime';
import { ApiEnv } from '../packages/api/src/main.ts';
import { runAudit } from '../packages/cli/src/audit.ts';
import { commands } from '../packages/cli/src/commands.ts';
import { dlqSubcommands } from '../packages/cli/src/dlq/index.ts';
import type { DlqContext } from '../packages/cli/src/dlq/dead-letters.ts';
import type { Context } from '../packages/cli/src/outbox/context.ts';
import { outboxSubcommands, outboxUsage } from '../packages/cli/src/outbox/index.ts';
import { registeredMetrics } from './support/registries.ts';

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

const codeFiles = [
  ...readdirSync(join(ROOT, 'packages')).flatMap((p) => sources(join('packages', p, 'src'))),
  ...sources('scripts'), ...sources('bench'), 'test/support/database.ts',
];
const docPages = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
const pages = ['README.md', ...docPages];

/** Fenced code blocks of a markdown text, with their language. */
function codeBlocks(markdown: string): { lang: string; body: string }[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]! }));
}
const withoutCode = (markdown: string) => markdown.replace(/^```\w*\n[\s\S]*?^```$/gm, '');

/** Table rows (`| … |`) whose first cell names `name` in backticks. */
function rowsNaming(markdown: string, name: string): string[] {
  return markdown.split('\n').filter((l) => l.startsWith('|') && (l.split('|')[1] ?? '').includes(`\`${name}\``));
}

// ── Environment ─────────────────────────────────────────────────────────────────────────

/** The variables a loader reads: it is run against an environment that records each lookup. */
function variablesRead(load: (env: NodeJS.ProcessEnv) => unknown): string[] {
  const seen = new Set<string>();
  const env = new Proxy({}, {
    get(_target, key) {
      if (typeof key === 'string' && /^[A-Z][A-Z0-9_]+$/.test(key)) seen.add(key);
      return undefined;
    },
  });
  try {
    load(env as NodeJS.ProcessEnv);
  } catch {
    // required variables are missing: expected, every key was still looked at
  }
  return [...seen];
}

const loaders: Record<string, (env: NodeJS.ProcessEnv) => Record<string, unknown>> = {
  api: (env) => parseEnv(ApiEnv, env),
  relay: (env) => loadRelayConfig(env),
  consumers: (env) => loadConsumersConfig(env),
  tracing: (env) => parseEnv(TracingEnv, env),
};
const REQUIRED = { DATABASE_URL: 'postgres://docs@localhost/docs', API_TOKENS: 'docs:read:docs-token-0123456789abcdef0123456789', API_PRINCIPAL_SECRET: 'docs-principal-secret-0123456789abcdef' };

/** Keys of zod environment schemas (`NAME: env.…`, `NAME: z.…`, `NAME: optional(…)`) and `process.env.NAME` reads. */
function variablesInSource(): Set<string> {
  const names = new Set<string>();
  for (const file of codeFiles) {
    const text = read(file);
    for (const m of text.matchAll(/\b([A-Z][A-Z0-9_]{2,}):\s*(?:env\.|z\.|optional\()/g)) names.add(m[1]!);
    for (const m of text.matchAll(/process\.env\.([A-Z][A-Z0-9_]*)/g)) names.add(m[1]!);
  }
  return names;
}

/** Documented, but read by a dependency rather than by relevo's code. */
const READ_BY_DEPENDENCIES = { OTEL_EXPORTER_OTLP_HEADERS: 'the OTLP exporter (packages/runtime/src/tracing.ts says so)' };

// ── Metrics ─────────────────────────────────────────────────────────────────────────────

function metricNamesInSource(): Set<string> {
  const names = new Set<string>();
  for (const file of codeFiles) for (const m of read(file).matchAll(/name: '(relevo_[a-z0-9_]+)'/g)) names.add(m[1]!);
  return names;
}

/** `relevo_*` names a text uses as metrics: histogram series suffixes dropped, `relevo_outbox_*` style prefixes skipped. */
function metricNamesUsed(text: string): string[] {
  return [...text.matchAll(/\brelevo_[a-z0-9_]+/g)].map((m) => m[0]).filter((n) => !n.endsWith('_'))
    .map((n) => n.replace(/_(bucket|sum|count)$/, ''));
}

// ── CLI ─────────────────────────────────────────────────────────────────────────────────

const CLI_SOURCES = ['packages/cli/src/audit.ts', 'packages/cli/src/dlq/index.ts', ...readdirSync(join(ROOT, 'packages/cli/src/outbox')).map((f) => `packages/cli/src/outbox/${f}`)];

/** Long options of the CLI's `parse(args, { … })` calls. */
function cliFlags(): Set<string> {
  const flags = new Set(['json']);
  for (const file of CLI_SOURCES) {
    for (const call of read(file).matchAll(/parse\(args, \{([\s\S]*?)\}\);/g)) {
      for (const m of call[1]!.matchAll(/'?([a-z][a-z-]*)'?: \{ type:/g)) flags.add(m[1]!);
    }
  }
  return flags;
}

/** Words of a shell line, quotes honoured, stopping at a comment, pipe or redirection. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
    const bare = m[3];
    if (bare !== undefined && (bare.startsWith('#') || ['|', '>', '&&', ';', '2>&1'].includes(bare))) break;
    words.push(m[1] ?? m[2] ?? bare!);
  }
  return words;
}

const SAMPLE_UUID = '7d0e3a52-0a57-4b8e-9d49-4b7a9c2f8e11';

/** Every `relevo outbox …`, `relevo audit …` and `relevo dlq …` line in the shell blocks of the pages. */
function documentedInvocations(): { page: string; line: string; words: string[] }[] {
  const found: { page: string; line: string; words: string[] }[] = [];
  for (const page of pages) {
    for (const block of codeBlocks(read(page))) {
      if (!['', 'sh', 'bash', 'shell', 'console'].includes(block.lang)) continue;
      for (const line of block.body.replace(/\\\n\s*/g, ' ').split('\n')) {
        const words = shellWords(line);
        const at = words.indexOf('relevo');
        if (at < 0 || !['outbox', 'audit', 'dlq'].includes(words[at + 1] ?? '')) continue;
        found.push({ page, line: line.trim(), words: words.slice(at + 1).map((w) => (/^<[^>]+>$/.test(w) ? SAMPLE_UUID : w)) });
      }
    }
  }
  return found;
}

/** Runs a documented command line up to the point where it would touch the database or the broker. */
async function parseWithTheCli(words: string[]): Promise<string> {
  const reached = new Error('reached the database');
  const database: unknown = new Proxy(() => undefined, {
    apply() {
      throw reached;
    },
    get(_target, key) {
      return key === 'then' ? undefined : database;
    },
  });
  const ctx: Context = { sql: database as postgres.Sql, shards: () => Promise.reject(reached), wake: () => Promise.reject(reached) };
  const passed = (err: unknown) => (err === reached || (err as Error).name === 'ConfigError' ? 'accepted' : `refused: ${(err as Error).message}`);
  const [command, ...rest] = words;
  if (command === 'audit') {
    // runAudit validates its arguments, then reads DATABASE_URL: an invalid one stops it there.
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = 'not a url';
    try {
      return await runAudit(rest).then(() => 'accepted', passed);
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
  }
  const [name, ...args] = rest;
  if (command === 'dlq') {
    const dlq = name ? dlqSubcommands[name] : undefined;
    if (!dlq) return `refused: no dlq subcommand "${name}"`;
    const broker: DlqContext = { admin: database as DlqContext['admin'], namespace: 'public/default', client: () => { throw reached; } };
    return dlq.run(broker, args).then(() => 'accepted', passed);
  }
  const sub = name ? outboxSubcommands[name] : undefined;
  if (!sub) return `refused: no outbox subcommand "${name}"`;
  return sub.run(ctx, args).then(() => 'accepted', passed);
}

// ── Links ───────────────────────────────────────────────────────────────────────────────

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const m of withoutCode(markdown).matchAll(/^#{1,6}\s+(.+)$/gm)) {
    anchors.add(m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  return anchors;
}

describe('documentation', () => {
  describe('docs/configuration.md', () => {
    const page = read('docs/configuration.md');

    it('names every environment variable the code reads', () => {
      const exact = Object.values(loaders).flatMap(variablesRead);
      const inSource = variablesInSource();
      expect(exact.length).toBeGreaterThanOrEqual(40);
      // The regex must see at least what the schemas really read, or it cannot be trusted for the rest.
      expect(exact.filter((n) => !inSource.has(n))).toEqual([]);
      expect([...new Set([...exact, ...inSource])].filter((n) => !page.includes(`\`${n}\``)).sort()).toEqual([]);
    });

    it('gives the defaults the schemas have', () => {
      const wrong: string[] = [];
      for (const [proc, load] of Object.entries(loaders)) {
        for (const [name, value] of Object.entries(load(REQUIRED))) {
          if (value === undefined || name in REQUIRED) continue;
          const shown = Array.isArray(value) ? value.join(',') : String(value);
          if (!rowsNaming(page, name).some((row) => row.includes(`\`${shown}\``))) wrong.push(`${proc}: ${name} defaults to \`${shown}\``);
        }
      }
      expect(wrong).toEqual([]);
    });

    it('names no variable that nothing reads', () => {
      const readByCode = variablesInSource();
      const deployment = `${readFileSync(join(ROOT, 'Dockerfile'), 'utf8')}${readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')}`;
      const documented = page.split('\n').filter((l) => l.startsWith('|'))
        .flatMap((l) => [...(l.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]{2,})`/g)].map((m) => m[1]!));
      expect(documented.length).toBeGreaterThanOrEqual(40);
      for (const name of Object.keys(READ_BY_DEPENDENCIES)) {
        expect(readByCode.has(name) || codeFiles.some((f) => read(f).includes(name)) || deployment.includes(name)).toBe(true);
      }
      expect([...new Set(documented)].filter((n) => !readByCode.has(n) && !(n in READ_BY_DEPENDENCIES)).sort()).toEqual([]);
    });
  });

  describe('docs/metrics.md', () => {
    const page = read('docs/metrics.md');
    const metrics = registeredMetrics();

    it('names every metric the processes register, with its type and labels', () => {
      const inSource = metricNamesInSource();
      expect(metrics.length).toBeGreaterThanOrEqual(13);
      expect(metrics.map((m) => m.name).filter((n) => !inSource.has(n))).toEqual([]);
      expect([...inSource].filter((n) => !page.includes(`\`${n}\``)).sort()).toEqual([]);
      const wrong: string[] = [];
      for (const m of metrics) {
        const row = page.split('\n').find((l) => l.startsWith(`| \`${m.name}\` |`));
        if (!row) wrong.push(`${m.name}: no table row`);
        else if (!row.includes(` ${m.type} `)) wrong.push(`${m.name}: type ${m.type}`);
        else for (const label of m.labelNames) if (!row.includes(`\`${label}\``)) wrong.push(`${m.name}: label ${label}`);
      }
      expect(wrong).toEqual([]);
    });

    it('and every PromQL query in the pages uses only metrics that exist', () => {
      const known = new Set([...metricNamesInSource(), ...metrics.map((m) => m.name)]);
      const texts = [page, ...pages.flatMap((p) => codeBlocks(read(p)).filter((b) => b.lang === 'promql').map((b) => b.body))];
      expect(texts.flatMap(metricNamesUsed).filter((n) => !known.has(n))).toEqual([]);
    });
  });

  describe('the CLI', () => {
    const text = ['README.md', 'docs/cli.md', 'docs/consumers.md', 'docs/runbook.md'].map(read).join('\n');

    it('the runbook shows every dlq subcommand', () => {
      expect(Object.keys(dlqSubcommands).filter((s) => !read('docs/runbook.md').includes(`relevo dlq ${s}`))).toEqual([]);
    });

    it('the CLI page shows every relevo command and outbox subcommand', () => {
      const top = commands.map((c) => c.name);
      const outbox = [...outboxUsage().matchAll(/^ {2}(\w+) /gm)].map((m) => m[1]!);
      expect(top.length).toBeGreaterThanOrEqual(6);
      expect(outbox.sort()).toEqual(Object.keys(outboxSubcommands).sort());
      const missing = [...top.map((c) => `relevo ${c}`), ...outbox.map((s) => `outbox ${s}`)].filter((c) => !text.includes(c));
      expect(missing).toEqual([]);
    });

    it('the CLI, consumers and runbook pages show every option of the outbox and audit commands', () => {
      const flags = cliFlags();
      expect(flags.size).toBeGreaterThanOrEqual(20);
      expect([...flags].filter((f) => !text.includes(`--${f}`)).sort()).toEqual([]);
    });

    it('every documented `relevo outbox …`, `relevo audit …` and `relevo dlq …` line is accepted by the CLI', async () => {
      const lines = documentedInvocations();
      expect(lines.length).toBeGreaterThanOrEqual(15);
      const refused: string[] = [];
      for (const { page, line, words } of lines) {
        const outcome = await parseWithTheCli(words);
        if (outcome !== 'accepted') refused.push(`${page}: ${line} → ${outcome}`);
      }
      expect(refused).toEqual([]);
    });
  });

  it('the README links every page under docs/', () => {
    const readme = read('README.md');
    expect(docPages.filter((p) => !readme.includes(`](${p})`))).toEqual([]);
  });

  it.each(pages)('every relative link in %s leads to a file and heading that exist', (page) => {
    const text = withoutCode(read(page));
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

  // The tree speaks of the product: how it was built belongs in git's history, not in its text.
  // Written with \s and split words, so that this file passes its own check.
  const PROCESS_WORDS = /\b((this|first)\sstop|stop\s\d+|issues?\s#?\d+|the\slead|proto(?:type)|throw(?:away)|these\smachines|fresh\smachine|the\sseed|(this|earlier|previous|next|last)\ssession)\b/i;

  it('no file of the tree speaks of how relevo was built', () => {
    const files = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n')
      .filter((f) => /\.(md|ts|js|mjs|json|ya?ml|sh|sql|html|css)$|^\.ci\/run$/.test(f))
      .filter((f) => f !== 'pnpm-lock.yaml' && !f.startsWith('bench/results/') && existsSync(join(ROOT, f)));
    expect(files.length).toBeGreaterThan(100);
    const found = files.flatMap((f) => read(f).split('\n').flatMap((line, i) => PROCESS_WORDS.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : []));
    expect(found).toEqual([]);
  });
});
