// Alerts: each event on eventos-partners is matched against the rules; a match is logged
// with its severity and POSTed as JSON to ALERT_WEBHOOK_URL, retried with exponential
// backoff. A delivered alert is recorded in the inbox (consumer "alerts", key
// "<event id>:<rule>"), so a redelivered event does not alert twice. When the webhook stays
// down past the retries, the event fails and is tried again (and, after its retries,
// dead-lettered to eventos-partners-relevo-alerts-dlq), so no alert is silently lost.
//
// The POST goes only to ALERT_WEBHOOK_URL (a redirect is a refusal, never followed: a 307 would
// re-POST partner data to wherever it points), its response body is never read, and no database
// transaction or lock is held while it is in flight: it may take retries × timeout. Copies of
// one alert in this process wait for each other instead; copies in two processes at once may
// both be POSTed, with the same idempotency-key (test/consumers/alerts-webhook.test.ts).
import type postgres from 'postgres';
import { claimInbox, inboxHas } from '@relevo/db/sql';
import { decodeEvent, eventTypesOf, TOPICS, type IntegrationEvent } from '@relevo/events';
import { formatMessageId } from '@relevo/pulsar';
import type { Logger } from '@relevo/runtime';
import { matchingRules, type AlertRule, type Severity } from './alert-rules.ts';
import type { ConsumerMetrics } from './metrics.ts';
import type { ConsumerSpec, HandleResult } from './runner.ts';
import type { WriterSchemas } from './writer-schemas.ts';

export const ALERTS_CONSUMER = 'alerts';
export const ALERTS_SUBSCRIPTION = 'relevo-alerts';

export interface Alert {
  /** "<event id>:<rule>": the same alert always has the same id (receivers may de-duplicate). */
  id: string;
  rule: string;
  severity: Severity;
  topic: string;
  message_id: string;
  detected_at: string;
  event: IntegrationEvent;
}

export interface WebhookOptions {
  url: string;
  retries: number;
  backoffMs: number;
  timeoutMs: number;
}

export class WebhookError extends Error {
  readonly code = 'ALERT_WEBHOOK_FAILED';
  readonly permanent: boolean;
  constructor(message: string, permanent: boolean) {
    super(message);
    this.name = 'WebhookError';
    this.permanent = permanent;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POSTs one alert; retries network errors, timeouts, 408, 429 and 5xx with backoff. */
export async function postAlert(alert: Alert, o: WebhookOptions, log: Logger): Promise<void> {
  const body = JSON.stringify(alert);
  for (let attempt = 0; ; attempt++) {
    let failure: WebhookError;
    try {
      const res = await fetch(o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': alert.id, 'user-agent': 'relevo-consumers' },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      // Only the status matters; whatever the receiver sends after it is not read.
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return;
      if (res.status >= 300 && res.status < 400) {
        throw new WebhookError(`the alert webhook answered ${res.status}, a redirect: not followed (alerts go to ALERT_WEBHOOK_URL only)`, true);
      }
      const retriable = res.status === 408 || res.status === 429 || res.status >= 500;
      failure = new WebhookError(`the alert webhook answered ${res.status}`, !retriable);
    } catch (err) {
      if (err instanceof WebhookError) throw err;
      failure = new WebhookError(`the alert webhook is unreachable: ${(err as Error).message}`, false);
    }
    if (failure.permanent || attempt >= o.retries) throw failure;
    const delay = Math.min(o.backoffMs * 2 ** attempt, 30_000) * (0.75 + Math.random() * 0.5);
    log.warn({ alert: alert.id, attempt: attempt + 1, retryInMs: Math.round(delay), err: failure.message }, 'alert webhook failed; retrying');
    await sleep(delay);
  }
}

const LEVEL: Record<Severity, 'info' | 'warn' | 'error'> = { info: 'info', warning: 'warn', critical: 'error' };

export interface AlertsDeps {
  sql: postgres.Sql;
  schemas: WriterSchemas;
  rules: readonly AlertRule[];
  webhook?: WebhookOptions;
  log: Logger;
  metrics: ConsumerMetrics;
  topicUrl(topic: string): string;
}

/** Runs fn once no earlier fn under the same key is still running (in this process). */
function oneAtATime() {
  const running = new Map<string, Promise<unknown>>();
  return async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const before = running.get(key);
    const mine = (before ?? Promise.resolve()).catch(() => undefined).then(fn);
    running.set(key, mine);
    try {
      return await mine;
    } finally {
      if (running.get(key) === mine) running.delete(key);
    }
  };
}

export function alertsConsumer(deps: AlertsDeps): ConsumerSpec {
  const topic = TOPICS.partners;
  const serialized = oneAtATime();
  return {
    name: ALERTS_CONSUMER,
    topic: deps.topicUrl(topic),
    subscription: ALERTS_SUBSCRIPTION,
    deadLetterTopic: deps.topicUrl(`${topic}-${ALERTS_SUBSCRIPTION}-dlq`),
    eventTypes: new Set(eventTypesOf(topic)),
    async handle(message): Promise<HandleResult> {
      const writer = message.schemaVersion?.length ? (await deps.schemas.schemaOf(message)).schema : undefined;
      const event = decodeEvent(topic, message.payload, writer);
      const matches = matchingRules(deps.rules, event);
      for (const rule of matches) {
        const alert: Alert = {
          id: `${event.id}:${rule.name}`, rule: rule.name, severity: rule.severity, topic,
          message_id: formatMessageId(message.messageId), detected_at: new Date().toISOString(), event,
        };
        // One alert at a time per id (two copies of an event may arrive together): check, post, record.
        const outcome = await serialized(alert.id, async () => {
          if (await inboxHas(deps.sql, ALERTS_CONSUMER, alert.id)) return 'duplicate';
          deps.log[LEVEL[rule.severity]]({
            alert: rule.name, severity: rule.severity, eventId: event.id, type: event.type,
            partnerId: (event.data as { partner_id?: string }).partner_id,
          }, `alert ${rule.name} (${rule.severity}): ${event.type}`);
          if (deps.webhook) {
            try {
              await postAlert(alert, deps.webhook, deps.log);
            } catch (err) {
              if (err instanceof WebhookError && err.permanent) {
                // The receiver refuses it (4xx, or a redirect): retrying will not help. Logged; move on.
                deps.log.error({ alert: alert.id, err: err.message }, 'alert webhook refused the alert; not retried');
                return 'refused';
              }
              deps.metrics.alert(rule.name, rule.severity, 'failed');
              throw err;
            }
          }
          await claimInbox(deps.sql, {
            consumer: ALERTS_CONSUMER, messageKey: alert.id, topic, eventType: event.type,
            messageId: alert.message_id, status: 'processed', envelope: { rule: rule.name, severity: rule.severity, event_id: event.id },
          });
          return deps.webhook ? 'sent' : 'logged';
        });
        deps.metrics.alert(rule.name, rule.severity, outcome);
      }
      return { type: event.type, outcome: matches.length > 0 ? 'alerted' : 'no_alert', eventTime: Number(event.time) };
    },
  };
}
