import { OUTBOX_STATES, listOutbox, type OutboxState } from '@relevo/db/sql';
import { CliError } from '../errors.ts';
import { parse, parseId, parsePositive, parseTime, parseUuid } from '../args.ts';
import { printable, relative, stateColor, table, toJson } from '../format.ts';
import type { Context } from './context.ts';

export async function list(ctx: Context, args: string[]): Promise<number> {
  const { values } = parse(args, {
    state: { type: 'string' }, type: { type: 'string' }, topic: { type: 'string' }, aggregate: { type: 'string' },
    since: { type: 'string' }, until: { type: 'string' }, cursor: { type: 'string' }, limit: { type: 'string' },
    oldest: { type: 'boolean' }, newest: { type: 'boolean' },
  });
  if (values.oldest && values.newest) throw new CliError('USAGE', '--oldest and --newest cannot go together');
  if (values.state && !OUTBOX_STATES.includes(values.state as OutboxState)) {
    throw new CliError('USAGE', `--state: "${values.state}" is not one of ${OUTBOX_STATES.join(', ')}`);
  }
  const since = values.since ? parseTime('since', values.since) : undefined;
  const until = values.until ? parseTime('until', values.until) : undefined;
  if (since && until && since >= until) throw new CliError('USAGE', '--since must be before --until');
  const order = values.oldest ? 'oldest' : 'newest';
  const limit = parsePositive('limit', values.limit, 50);
  const rows = await listOutbox(ctx.sql, {
    order, limit,
    ...(values.state ? { state: values.state as OutboxState } : {}),
    ...(values.type ? { eventType: values.type } : {}),
    ...(values.topic ? { topic: values.topic } : {}),
    ...(values.aggregate ? { aggregateId: parseUuid('aggregate', values.aggregate) } : {}),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    ...(values.cursor ? { cursor: parseId(values.cursor) } : {}),
  });
  const next = rows.length === limit ? rows[rows.length - 1]!.id.toString() : null;
  if (values.json) {
    process.stdout.write(toJson({ rows: rows.map(({ payload: _payload, ...r }) => r), next_cursor: next }));
    return 0;
  }
  process.stdout.write(table(
    ['id', 'state', 'event type', 'topic', 'partner', 'v', 'occurred', 'attempts'],
    rows.map((r) => [r.id.toString(), stateColor(r.state), printable(r.event_type), printable(r.topic), r.aggregate_id, String(r.aggregate_version), relative(r.occurred_at), String(r.attempts)]),
  ));
  if (next) process.stdout.write(`more: --cursor ${next}\n`);
  return 0;
}
