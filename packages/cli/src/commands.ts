import { z } from 'zod';
import { env, parseEnv } from '@relevo/runtime';

export interface Command {
  name: string;
  summary: string;
  /** Resolves to the process exit code; long-running commands resolve when they stop. */
  run(args: string[]): Promise<number>;
}

export const commands: Command[] = [
  {
    name: 'db migrate',
    summary: 'apply pending database migrations (idempotent)',
    async run() {
      const config = parseEnv(z.object({ DATABASE_URL: env.databaseUrl }));
      const { migrateDatabase } = await import('@relevo/db');
      await migrateDatabase(config.DATABASE_URL);
      process.stdout.write('db: migrations applied\n');
      return 0;
    },
  },
  {
    name: 'api',
    summary: 'run the HTTP API (partners, KYC, integrations)',
    async run() {
      const { runApiProcess } = await import('@relevo/api');
      return runApiProcess();
    },
  },
  {
    name: 'outbox',
    summary: 'inspect and repair the outbox (status, list, show, retry, skip, replay, purge, tail)',
    async run(args) {
      const { runOutbox } = await import('./outbox/index.ts');
      return runOutbox(args);
    },
  },
  {
    name: 'relay',
    summary: 'run the outbox relay worker (outbox → Pulsar)',
    async run() {
      const { runRelayProcess } = await import('@relevo/relay');
      return runRelayProcess();
    },
  },
  {
    name: 'consumers',
    summary: 'run the event consumers (audit, alliances inbox, alerts) until SIGTERM',
    async run() {
      const { runConsumersProcess } = await import('@relevo/consumers');
      return runConsumersProcess();
    },
  },
  {
    name: 'dlq',
    summary: 'the consumers\' dead letters: list, show, replay, purge (--topic --reason --json)',
    async run(args) {
      const { runDlq } = await import('./dlq/index.ts');
      return runDlq(args);
    },
  },
  {
    name: 'audit',
    summary: 'query the audit trail of published events (--partner --type --topic --since --until --limit --cursor)',
    async run(args) {
      const { runAudit } = await import('./audit.ts');
      return runAudit(args);
    },
  },
];

export function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return ['usage: relevo <command>', '', ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`), ''].join('\n');
}
