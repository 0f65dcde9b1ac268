// /v1/outbox/history and /v1/dead-letters: the operator page's charts (the outbox over the
// last hour, from the outbox table) and its dead-letter counts per consumer (the backlog of
// each dead-letter topic's relevo-dlq subscription, from the broker's admin API).
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { outboxHistory } from '@relevo/db';
import { DEAD_LETTER_SUBSCRIPTION, DEAD_LETTER_TOPICS } from '@relevo/events';
import type { PulsarAdmin } from '@relevo/pulsar';
import type { AppDeps, AppEnv } from '../context.ts';
import { PROBLEM_RESPONSES, SECURITY } from './common.ts';
import type { Hook } from './hook.ts';

/** Where the API reads the dead-letter counts: the broker's admin API, in the consumers' namespace. */
export interface DeadLetterSource {
  admin: Pick<PulsarAdmin, 'subscriptionBacklogs'>;
  namespace: string;
}

const tags = ['outbox'];
const json = <T>(schema: T) => ({ 'application/json': { schema } });
/** Every window is cut into this many points: a chart's worth. */
const POINTS = 60;

const HistoryQuery = z.strictObject({
  window: z.string().regex(/^([1-9]\d{0,3})([mh])$/, 'a window like 15m, 1h or 24h').default('1h')
    .transform((w, ctx) => {
      const [, n, unit] = /^(\d+)([mh])$/.exec(w)!;
      const seconds = Number(n) * (unit === 'h' ? 3600 : 60);
      if (seconds < 15 * 60 || seconds > 24 * 3600) ctx.addIssue({ code: 'custom', message: 'between 15m and 24h' });
      return seconds;
    })
    .openapi({ param: { name: 'window', in: 'query' }, example: '1h', description: '15m … 24h, cut into 60 points' }),
});

const HistorySchema = z.object({
  window_seconds: z.number().int(),
  step_seconds: z.number().int(),
  points: z.array(z.object({
    at: z.string().openapi({ description: 'the end of the step' }),
    sent: z.number().int().openapi({ description: 'rows sent within the step' }),
    events_per_second: z.number(),
    backlog: z.number().int().openapi({ description: 'unsent rows, parked included, at the end of the step' }),
    publish_lag_seconds: z.number().openapi({
      description: 'the longest wait seen in the step: commit → sent of the rows sent in it, and the age of the oldest row unsent (not parked) now, if it was waiting then',
    }),
  })),
}).openapi('OutboxHistory');

const DeadLettersSchema = z.object({
  subscription: z.string(),
  topics: z.array(z.object({
    consumer: z.string(),
    dead_letter_topic: z.string(),
    pending: z.number().int().nullable().openapi({ description: 'null when the broker could not say (see error), or the topic has no relevo-dlq subscription yet' }),
  })),
  error: z.string().nullable(),
}).openapi('DeadLetterCounts');

const historyRoute = createRoute({
  method: 'get', path: '/outbox/history', tags, security: SECURITY.operator,
  summary: 'The outbox over a window (sent per step, events/s, backlog, publish lag), for the operator page\'s charts',
  request: { query: HistoryQuery },
  responses: { 200: { description: 'the outbox over the window, oldest step first', content: json(HistorySchema) }, ...PROBLEM_RESPONSES },
});

const deadLettersRoute = createRoute({
  method: 'get', path: '/dead-letters', tags: ['dead letters'], security: SECURITY.operator,
  summary: 'Dead letters waiting per consumer (the backlog of each dead-letter topic\'s relevo-dlq subscription); relevo dlq acts on them',
  responses: { 200: { description: 'pending dead letters per consumer', content: json(DeadLettersSchema) }, ...PROBLEM_RESPONSES },
});

export function operationsRoutes(deps: AppDeps, defaultHook: Hook): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook });

  app.openapi(historyRoute, async (c) => {
    const { window } = c.req.valid('query');
    const step = window / POINTS;
    const points = await outboxHistory(deps.database.sql, POINTS, step);
    return c.json({
      window_seconds: window,
      step_seconds: step,
      points: points.map((p) => ({
        at: p.at.toISOString(), sent: p.sent, events_per_second: p.sent / step, backlog: p.backlog, publish_lag_seconds: p.publishLagSeconds,
      })),
    }, 200);
  });

  app.openapi(deadLettersRoute, async (c) => {
    const source = deps.deadLetters;
    const counts = DEAD_LETTER_TOPICS.map((t) => ({ consumer: t.consumer, dead_letter_topic: t.deadLetterTopic, pending: null as number | null }));
    if (!source) return c.json({ subscription: DEAD_LETTER_SUBSCRIPTION, topics: counts, error: 'this API has no broker admin URL' }, 200);
    try {
      await Promise.all(counts.map(async (count) => {
        const backlogs = await source.admin.subscriptionBacklogs(`persistent://${source.namespace}/${count.dead_letter_topic}`);
        // No topic: nothing was ever dead-lettered there.
        count.pending = backlogs ? (backlogs[DEAD_LETTER_SUBSCRIPTION] ?? null) : 0;
      }));
      return c.json({ subscription: DEAD_LETTER_SUBSCRIPTION, topics: counts, error: null }, 200);
    } catch (err) {
      deps.log.warn({ err }, 'could not read the dead-letter counts from the broker');
      for (const count of counts) count.pending = null;
      return c.json({ subscription: DEAD_LETTER_SUBSCRIPTION, topics: counts, error: `the broker did not answer: ${(err as Error).message}` }, 200);
    }
  });

  return app;
}
