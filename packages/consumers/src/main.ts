import { readFileSync } from 'node:fs';
import { connectSql, ping, runQuery, surviveDroppedTypeFetches } from '@relevo/db/sql';
import { createClient } from '@relevo/pulsar';
import { createLogger, onShutdown, startOpsServer, startTracing } from '@relevo/runtime';
import { loadAlertRules } from './alert-rules.ts';
import { loadConsumersConfig } from './config.ts';
import { startConsumers } from './consumers.ts';
import { createConsumerMetrics } from './metrics.ts';

/**
 * `relevo consumers`: audit, alliances and alerts in one process, each on its own
 * subscription; runs until SIGTERM, then finishes and acknowledges what is in hand.
 */
export async function runConsumersProcess(): Promise<number> {
  const config = loadConsumersConfig();
  // Rules are checked before anything connects: a bad file stops start-up at once.
  const rules = config.CONSUMERS.includes('alerts') ? loadAlertRules(config.ALERT_RULES) : [];
  const log = createLogger('consumers', config.LOG_LEVEL);
  surviveDroppedTypeFetches(log);
  const tracing = await startTracing('relevo-consumers', log);
  const sql = connectSql(config.DATABASE_URL, { max: config.CONSUMER_CONCURRENCY * 4 + 2, applicationName: 'relevo-consumers' });
  const client = createClient({
    serviceUrl: config.BROKER_URL,
    ...(config.PULSAR_TOKEN ? { token: config.PULSAR_TOKEN, allowInsecureToken: config.PULSAR_ALLOW_INSECURE_TOKEN } : {}),
    ...(config.PULSAR_TLS_CA_FILE ? { tls: { ca: readFileSync(config.PULSAR_TLS_CA_FILE) } } : {}),
    logger: log,
  });
  const metrics = createConsumerMetrics();
  if (config.CONSUMERS.includes('alerts')) {
    log.info({ rules: rules.map((r) => `${r.name}:${r.type}:${r.severity}`), file: config.ALERT_RULES ?? '(defaults)', webhook: config.ALERT_WEBHOOK_URL ?? null },
      config.ALERT_WEBHOOK_URL ? 'alert rules loaded' : 'alert rules loaded; no ALERT_WEBHOOK_URL: alerts are only logged');
  }
  const consumers = await startConsumers({
    client, sql, namespace: config.PULSAR_NAMESPACE, log, metrics,
    enabled: config.CONSUMERS,
    maxRedeliveries: config.CONSUMER_MAX_REDELIVERIES,
    nackDelayMs: config.CONSUMER_NACK_DELAY_MS,
    concurrency: config.CONSUMER_CONCURRENCY,
    rules,
    ...(config.ALERT_WEBHOOK_URL ? {
      webhook: {
        url: config.ALERT_WEBHOOK_URL, retries: config.ALERT_WEBHOOK_RETRIES,
        backoffMs: config.ALERT_WEBHOOK_BACKOFF_MS, timeoutMs: config.ALERT_WEBHOOK_TIMEOUT_MS,
      },
    } : {}),
  });
  const server = await startOpsServer({
    host: config.HOST,
    port: config.CONSUMERS_METRICS_PORT,
    registry: metrics.registry,
    ready: async () => {
      if (!consumers.ready()) return false;
      await runQuery(sql, ping());
      return true;
    },
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.CONSUMERS_METRICS_PORT;
  log.info({ consumers: consumers.runners.map((r) => r.name), namespace: config.PULSAR_NAMESPACE, metrics: `http://${config.HOST}:${port}/metrics` },
    'consumers ready');

  return new Promise<number>(() => {
    onShutdown(log, async () => {
      server.close();
      await consumers.stop();
      await tracing.shutdown();
      await client.close();
      await sql.end({ timeout: 5 });
    });
  });
}
