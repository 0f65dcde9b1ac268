import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ConsumerMetrics {
  registry: Registry;
  /** One message handled by a consumer, with what came of it. */
  handled(consumer: string, topic: string, type: string, outcome: string): void;
  /** Event time (envelope `time`) → receipt, for a delivery. */
  latency(consumer: string, topic: string, type: string, seconds: number): void;
  inFlight(consumer: string, delta: number): void;
  deadLettered(consumer: string, topic: string): void;
  alert(rule: string, severity: string, outcome: string): void;
}

export function createConsumerMetrics(): ConsumerMetrics {
  const registry = new Registry();
  const messages = new Counter({
    name: 'relevo_consumer_messages_total',
    help: 'Messages handled, by consumer, topic, event type and outcome (stored, duplicate, processed, unhandled, alerted, no_alert, retry, dead_lettered)',
    labelNames: ['consumer', 'topic', 'type', 'outcome'], registers: [registry],
  });
  const latency = new Histogram({
    name: 'relevo_consumer_event_to_receipt_seconds',
    help: 'From the event happening (envelope time) to its receipt by the consumer',
    labelNames: ['consumer', 'topic', 'type'], registers: [registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  });
  const inFlight = new Gauge({
    name: 'relevo_consumer_in_flight', help: 'Messages being handled now', labelNames: ['consumer'], registers: [registry],
  });
  const dead = new Counter({
    name: 'relevo_consumer_dead_lettered_total', help: 'Messages sent to a dead-letter topic after their redeliveries',
    labelNames: ['consumer', 'topic'], registers: [registry],
  });
  const alerts = new Counter({
    name: 'relevo_alerts_total', help: 'Alerts by rule, severity and outcome (sent, logged, refused, failed, duplicate)',
    labelNames: ['rule', 'severity', 'outcome'], registers: [registry],
  });
  return {
    registry,
    handled: (consumer, topic, type, outcome) => messages.inc({ consumer, topic, type, outcome }),
    latency: (consumer, topic, type, seconds) => latency.observe({ consumer, topic, type }, Math.max(0, seconds)),
    inFlight: (consumer, delta) => inFlight.inc({ consumer }, delta),
    deadLettered: (consumer, topic) => dead.inc({ consumer, topic }),
    alert: (rule, severity, outcome) => alerts.inc({ rule, severity, outcome }),
  };
}
