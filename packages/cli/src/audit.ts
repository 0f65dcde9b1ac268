// `relevo audit`: the consumers' audit trail of relevo's own events, newest first.
import { z } from 'zod';
import { connectSql, listAuditEvents } from '@relevo/db/sql';
import { env, parseEnv } from '@relevo/runtime';
import { parse, parseId, parsePositive, parseTime, parseUuid } from './args.ts';
import { CliError } from './errors.ts';
import { color, printable, table, toJson } from './format.ts';

export const AUDIT_USAGE = 'usage: relevo audit [--partner ID] [--type T] [--topic T] [--since T] [--until T] [--limit N] [--cursor C] [--json]';

export async function runAudit(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    partner: { type: 'string' }, type: { type: 'string' }, topic: { type: 'string' },
    since: { type: 'string' }, until: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stderr.write(`${AUDIT_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new CliError('USAGE', `unexpected argument "${positionals[0]}" (${AUDIT_USAGE})`);
  const since = values.since ? parseTime('since', values.since) : undefined;
  const until = values.until ? parseTime('until', values.until) : undefined;
  if (since && until && since >= until) throw new CliError('USAGE', '--since must be before --until');
  const limit = parsePositive('limit', values.limit, 50);
  const filter = {
    limit,
    ...(values.partner ? { partnerId: parseUuid('partner', values.partner) } : {}),
    ...(values.type ? { eventType: values.type } : {}),
    ...(values.topic ? { topic: values.topic } : {}),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    ...(values.cursor ? { before: parseId(values.cursor) } : {}),
  };
  const config = parseEnv(z.object({ DATABASE_URL: env.databaseUrl }));
  const sql = connectSql(config.DATABASE_URL, { max: 1, applicationName: 'relevo-cli' });
  try {
    const rows = await listAuditEvents(sql, filter).catch((err: Error & { code?: string }) => {
      if (err.code === '42P01') throw new CliError('UNAVAILABLE', 'no audit table: run `relevo db migrate` first');
      throw new CliError('UNAVAILABLE', `cannot read the audit trail: ${err.message}`);
    });
    const next = rows.length === limit ? rows[rows.length - 1]!.id.toString() : null;
    if (values.json) {
      process.stdout.write(toJson({ rows, next_cursor: next }));
      return 0;
    }
    process.stdout.write(table(
      ['event time', 'type', 'topic', 'partner', 'event id', 'receipt', 'message id'],
      rows.map((r) => [
        r.event_time.toISOString(), printable(r.event_type), printable(r.topic), r.partner_id ?? '-', r.event_id,
        `+${Math.max(0, r.received_at.getTime() - r.event_time.getTime())} ms`, color.dim(printable(r.message_id)),
      ]),
    ));
    if (next) process.stdout.write(`more: --cursor ${next}\n`);
    return 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
