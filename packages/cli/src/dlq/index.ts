// `relevo dlq list|show|replay|purge`: the consumers' dead letters (dead-letter topics and the
// `relevo-dlq` subscription that keeps them: dead-letters.ts). A replay re-handles the
// message in this process with its consumer's own handler and the consumers' configuration,
// rather than publishing it again to its original topic: that topic has other subscribers
// (the audit and alerts consumers both read eventos-partners, other services read it too),
// and each would get the copy. The handlers are idempotent (event id, inbox), so a replay of
// a message that was in fact handled changes nothing.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { OWN_TOPICS, decodeEvent, type OwnTopic } from '@relevo/events';
import { createAdmin, createClient, type PulsarClient } from '@relevo/pulsar';
import { createLogger, env, parseEnv } from '@relevo/runtime';
import { parse, parsePositive } from '../args.ts';
import { CliError } from '../errors.ts';
import { color, table, toJson } from '../format.ts';
import {
  REPLAY, acknowledger, describe, findDeadLetter, originalMessage, pendingCount, pendingDeadLetters, requirePending, selectTopics,
  topicUrl, type DeadLetter, type DlqContext,
} from './dead-letters.ts';

const DlqEnv = z.object({
  PULSAR_ADMIN_URL: env.pulsarAdminUrl,
  BROKER_URL: env.brokerUrl,
  PULSAR_NAMESPACE: env.pulsarNamespace,
  PULSAR_TOKEN: z.string().min(1).optional(),
  PULSAR_TLS_CA_FILE: z.string().min(1).optional(),
  LOG_LEVEL: env.logLevel,
});

type Run = (ctx: DlqContext, args: string[]) => Promise<number>;

export const dlqSubcommands: Record<string, { summary: string; run: Run }> = {
  list: { summary: '[--topic T] [--limit N]: pending dead letters per topic, each with its error, and how often each error occurs', run: list },
  show: { summary: '<id> [--topic T]: one dead letter: its properties, its error, its payload decoded', run: show },
  replay: { summary: '<ids…> | --all --topic T, --reason "…": re-handle with the consumer\'s handler; acknowledged once handled', run: replay },
  purge: { summary: '<ids…> | --all --topic T, --reason "…": drop dead letters without handling them', run: purge },
};

export function dlqUsage(): string {
  const w = Math.max(...Object.keys(dlqSubcommands).map((k) => k.length));
  return ['usage: relevo dlq <command> [--json]', '',
    ...Object.entries(dlqSubcommands).map(([k, v]) => `  ${k.padEnd(w)}  ${v.summary}`), ''].join('\n');
}

export async function runDlq(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  const sub = name ? dlqSubcommands[name] : undefined;
  if (!sub) {
    process.stderr.write(dlqUsage());
    if (name === undefined || name === 'help' || name === '--help') return 0;
    throw new CliError('USAGE', `unknown dlq command "${name}"`);
  }
  const config = parseEnv(DlqEnv);
  const ca = config.PULSAR_TLS_CA_FILE ? readFileSync(config.PULSAR_TLS_CA_FILE) : undefined;
  const auth = config.PULSAR_TOKEN ? { token: config.PULSAR_TOKEN } : {};
  let client: PulsarClient | undefined;
  const ctx: DlqContext = {
    admin: createAdmin(config.PULSAR_ADMIN_URL, { ...auth, ...(ca ? { ca } : {}), timeoutMs: 10_000 }),
    namespace: config.PULSAR_NAMESPACE,
    client: () => (client ??= createClient({ serviceUrl: config.BROKER_URL, ...auth, ...(ca ? { tls: { ca } } : {}) })),
  };
  try {
    return await sub.run(ctx, rest);
  } finally {
    await client?.close();
  }
}

async function list(ctx: DlqContext, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { topic: { type: 'string' }, limit: { type: 'string' } });
  if (positionals.length > 0) throw new CliError('USAGE', `unexpected argument "${positionals[0]}"`);
  const topics = selectTopics(values.topic);
  const limit = parsePositive('limit', values.limit, 100);
  const counts = [];
  const items = [];
  for (const topic of topics) {
    counts.push({ dead_letter_topic: topic.deadLetterTopic, consumer: topic.consumer, pending: await pendingCount(ctx, topic) });
    items.push(...(await pendingDeadLetters(ctx, topic, limit)).map(describe));
  }
  const byError = new Map<string, number>();
  for (const i of items) byError.set(i.error ?? '(none)', (byError.get(i.error ?? '(none)') ?? 0) + 1);
  const errors = [...byError].sort((a, b) => b[1] - a[1]).map(([error, count]) => ({ error, count }));
  if (values.json) {
    process.stdout.write(toJson({ topics: counts, items, by_error: errors }));
    return 0;
  }
  process.stdout.write(table(['dead-letter topic', 'consumer', 'pending'], counts.map((c) => [c.dead_letter_topic, c.consumer, String(c.pending)])));
  if (items.length === 0) {
    process.stdout.write('\nno pending dead letters\n');
    return 0;
  }
  process.stdout.write(`\n${table(['id', 'consumer', 'event', 'redeliveries', 'dead-lettered at', 'error'],
    items.map((i) => [i.id, i.consumer, `${i.event_type ?? '?'} ${i.event_id ?? ''}`.trim(), String(i.redeliveries ?? ''), i.dead_lettered_at, color.red(oneLine(i.error))]))}`);
  process.stdout.write(`\n${table(['count', 'error'], errors.map((e) => [String(e.count), oneLine(e.error)]))}`);
  return 0;
}

const oneLine = (text: string | null, max = 100) => {
  const line = (text ?? '').replace(/\s+/g, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

/** The payload decoded as its consumer decodes it (writer schema from the original topic), or why it cannot be. */
async function decodePayload(ctx: DlqContext, dead: DeadLetter): Promise<{ event?: unknown; decode_error?: string }> {
  const { WriterSchemas, decodeGeneric } = await import('@relevo/consumers');
  const schemas = new WriterSchemas(ctx.client());
  const message = originalMessage(dead, topicUrl(ctx, dead.topic.topic));
  try {
    if ((OWN_TOPICS as readonly string[]).includes(dead.topic.topic)) {
      const writer = message.schemaVersion ? (await schemas.schemaOf(message)).schema : undefined;
      return { event: decodeEvent(dead.topic.topic as OwnTopic, message.payload, writer) };
    }
    return { event: decodeGeneric((await schemas.typeOf(message)).type, message.payload) };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { decode_error: `${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}` };
  }
}

async function show(ctx: DlqContext, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { topic: { type: 'string' } });
  if (positionals.length !== 1) throw new CliError('USAGE', 'give one dead-letter id: relevo dlq show <id> [--topic T]');
  const dead = await findDeadLetter(ctx, selectTopics(values.topic), positionals[0]!);
  const decoded = await decodePayload(ctx, dead);
  const payload = dead.message.payload;
  const out = {
    ...describe(dead),
    properties: dead.message.properties,
    partition_key: dead.message.partitionKey ?? null,
    payload_bytes: payload.length,
    ...decoded,
    ...(decoded.event === undefined ? { payload_base64: payload.toString('base64') } : {}),
  };
  if (values.json) {
    process.stdout.write(toJson(out));
    return 0;
  }
  const rows = Object.entries(describe(dead)).map(([k, v]) => [k, k === 'error' ? color.red(String(v)) : String(v ?? '-')]);
  process.stdout.write(table(['field', 'value'], rows));
  process.stdout.write(`\nproperties\n${table(['name', 'value'], Object.entries(dead.message.properties).map(([k, v]) => [k, v]))}`);
  process.stdout.write(decoded.event !== undefined
    ? `\npayload (${payload.length} bytes), decoded:\n${JSON.stringify(decoded.event, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`
    : `\npayload (${payload.length} bytes) does not decode: ${decoded.decode_error}\nbase64: ${out.payload_base64}\n`);
  return 0;
}

/** The dead letters an action names: ids (on --topic, or searched on every topic), or --all pending on one --topic. */
async function selected(ctx: DlqContext, values: { topic?: string | undefined; all?: boolean | undefined }, ids: string[], action: string): Promise<DeadLetter[]> {
  if (values.all) {
    if (ids.length > 0) throw new CliError('USAGE', `give ids or --all, not both`);
    if (!values.topic) throw new CliError('USAGE', `--all needs --topic: ${action} one dead-letter topic at a time`);
    const [topic] = selectTopics(values.topic);
    return pendingDeadLetters(ctx, topic!, Number.MAX_SAFE_INTEGER);
  }
  if (ids.length === 0) throw new CliError('USAGE', `give the dead-letter ids to ${action}, or --all --topic T`);
  const topics = selectTopics(values.topic);
  const found: DeadLetter[] = [];
  for (const id of ids) {
    const dead = await findDeadLetter(ctx, topics, id);
    await requirePending(ctx, dead);
    found.push(dead);
  }
  return found;
}

function requireReason(reason: string | undefined, action: string): string {
  const text = reason?.trim();
  if (!text) throw new CliError('USAGE', `--reason "…" is required: say why you ${action} (it is logged${action === 'replay' ? ' and given to the handler as a property' : ''})`);
  return text;
}

async function replay(ctx: DlqContext, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { topic: { type: 'string' }, all: { type: 'boolean' }, reason: { type: 'string' } });
  const reason = requireReason(values.reason, 'replay');
  const deadLetters = await selected(ctx, values, positionals, 'replay');
  const { CONSUMER_NAMES, consumerSpecs, createConsumerMetrics, loadAlertRules, loadConsumersConfig } = await import('@relevo/consumers');
  const { connectSql } = await import('@relevo/db/sql');
  // The consumers' own configuration: their database, alert rules and webhook.
  const config = loadConsumersConfig();
  const log = createLogger('dlq', config.LOG_LEVEL, 2);
  const sql = connectSql(config.DATABASE_URL, { max: 2, applicationName: 'relevo-cli' });
  const specs = consumerSpecs({
    client: ctx.client(), sql, namespace: ctx.namespace, log, metrics: createConsumerMetrics(), enabled: [...CONSUMER_NAMES],
    rules: loadAlertRules(config.ALERT_RULES),
    ...(config.ALERT_WEBHOOK_URL ? {
      webhook: { url: config.ALERT_WEBHOOK_URL, retries: config.ALERT_WEBHOOK_RETRIES, backoffMs: config.ALERT_WEBHOOK_BACKOFF_MS, timeoutMs: config.ALERT_WEBHOOK_TIMEOUT_MS },
    } : {}),
  });
  const acks = acknowledger(ctx);
  const results: (ReturnType<typeof describe> & { replayed: boolean; outcome?: string; replay_error?: string })[] = [];
  try {
    for (const dead of deadLetters) {
      const spec = specs.find((s) => s.deadLetterTopic === topicUrl(ctx, dead.topic.deadLetterTopic))!;
      const at = new Date();
      const message = originalMessage(dead, spec.topic, { [REPLAY.from]: dead.id, [REPLAY.reason]: reason, [REPLAY.at]: at.toISOString() });
      const fields = { deadLetter: dead.id, deadLetterTopic: dead.topic.deadLetterTopic, consumer: dead.topic.consumer, eventId: message.properties.ce_id, reason };
      try {
        const handled = await spec.handle(message, at);
        await acks.ack(dead);
        log.info({ ...fields, outcome: handled.outcome }, 'dead letter replayed');
        results.push({ ...describe(dead), replayed: true, outcome: handled.outcome });
      } catch (err) {
        const e = err as { code?: string; message?: string };
        const error = `${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`;
        log.error({ ...fields, err }, 'dead letter replay failed; it stays pending');
        results.push({ ...describe(dead), replayed: false, replay_error: error });
      }
    }
  } finally {
    await acks.close();
    await sql.end({ timeout: 5 });
  }
  const failed = results.filter((r) => !r.replayed).length;
  if (values.json) process.stdout.write(toJson({ reason, replayed: results.length - failed, failed, items: results }));
  else {
    for (const r of results) {
      process.stdout.write(r.replayed
        ? `${color.green('replayed')} ${r.id} (${r.consumer}, ${r.event_type ?? '?'} ${r.event_id ?? ''}): ${r.outcome}\n`
        : `${color.red('failed')}   ${r.id} (${r.consumer}): ${r.replay_error}; it stays in ${r.dead_letter_topic}\n`);
    }
    process.stdout.write(`${results.length - failed} replayed, ${failed} failed\n`);
  }
  return failed > 0 ? 1 : 0;
}

async function purge(ctx: DlqContext, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { topic: { type: 'string' }, all: { type: 'boolean' }, reason: { type: 'string' } });
  const reason = requireReason(values.reason, 'purge');
  const config = parseEnv(DlqEnv);
  const log = createLogger('dlq', config.LOG_LEVEL, 2);
  const deadLetters = await selected(ctx, values, positionals, 'purge');
  const acks = acknowledger(ctx);
  try {
    for (const dead of deadLetters) {
      await acks.ack(dead);
      log.info({ deadLetter: dead.id, deadLetterTopic: dead.topic.deadLetterTopic, consumer: dead.topic.consumer, eventId: dead.message.properties.ce_id, reason },
        'dead letter purged');
    }
  } finally {
    await acks.close();
  }
  process.stdout.write(values.json
    ? toJson({ reason, purged: deadLetters.map((d) => d.id) })
    : `purged ${deadLetters.length} dead letter(s): ${deadLetters.map((d) => d.id).join(', ') || '-'}\n`);
  return 0;
}
