// Alert rules: event type, optional conditions on the event's data fields, severity. Built-in
// defaults cover a rejected KYC and a revoked integration; ALERT_RULES names a JSON file
// that adds (or, with "include_defaults": false, replaces) rules. A malformed file stops
// start-up with one line naming the file, the line and the field at fault.
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { z } from 'zod';
import { EVENT_TYPES, type EventType } from '@relevo/domain';
import { dataRecordName, TOPICS, topicSchema } from '@relevo/events';
import { ConfigError } from '@relevo/runtime';
import { JsonSyntaxError, formatPath, parseLocatedJson } from './located-json.ts';

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

type Scalar = string | number | boolean | null;
/** Equality with a value, or membership in a list. */
export type Condition = Scalar | { in: Scalar[] };

export interface AlertRule {
  name: string;
  type: EventType;
  /** Field of the event's `data` → condition; every condition must hold. */
  when: Record<string, Condition>;
  severity: Severity;
}

export const DEFAULT_RULES: readonly AlertRule[] = [
  { name: 'kyc-rechazado', type: 'KYCVerificado', when: { estado_kyc: 'RECHAZADO' }, severity: 'critical' },
  { name: 'integracion-revocada', type: 'IntegracionRevocada', when: {}, severity: 'warning' },
];

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const RuleSchema = z.strictObject({
  name: z.string().regex(/^[\w.-]{1,100}$/, 'expected a name of letters, digits, "-", "_" or "."'),
  type: z.enum(EVENT_TYPES as unknown as [EventType, ...EventType[]], { error: `expected one of ${EVENT_TYPES.join(', ')}` }),
  when: z.record(z.string(), z.union([scalar, z.strictObject({ in: z.array(scalar).min(1) })], {
    error: 'expected a value to equal, or { "in": [values…] }',
  })).default({}),
  severity: z.enum(SEVERITIES, { error: `expected one of ${SEVERITIES.join(', ')}` }),
});
const FileSchema = z.strictObject({
  include_defaults: z.boolean().default(true),
  rules: z.array(RuleSchema),
});

/** The data fields each event type has (from its Avro record). */
function fieldsOf(type: EventType): string[] {
  const envelope = topicSchema(TOPICS.partners).type as avro.types.RecordType;
  const union = envelope.field('data')!.type as unknown as { types: avro.Type[] };
  const record = union.types.find((t) => t.name === dataRecordName(type)) as avro.types.RecordType | undefined;
  return record ? record.fields.map((f) => f.name) : [];
}

export function parseAlertRules(text: string, file: string): AlertRule[] {
  const fail = (line: number, what: string, message: string): never => {
    throw new ConfigError(`config: ALERT_RULES=${JSON.stringify(file)} is invalid: line ${line}, ${what}: ${message}`);
  };
  let located;
  try {
    located = parseLocatedJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) return fail(err.line, `column ${err.column}`, `not valid JSON: ${err.message}`);
    throw err;
  }
  const parsed = FileSchema.safeParse(located.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // An unknown key is reported on the key itself.
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
    return fail(located.lineOf(path), formatPath(path), issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message);
  }
  const names = new Set<string>(parsed.data.include_defaults ? DEFAULT_RULES.map((r) => r.name) : []);
  parsed.data.rules.forEach((rule, i) => {
    if (names.has(rule.name)) fail(located.lineOf(['rules', i, 'name']), `rules[${i}].name`, `"${rule.name}" is already a rule name`);
    names.add(rule.name);
    const fields = fieldsOf(rule.type);
    for (const field of Object.keys(rule.when)) {
      if (!fields.includes(field)) {
        fail(located.lineOf(['rules', i, 'when', field]), `rules[${i}].when.${field}`,
          `${rule.type} has no field "${field}" (its fields: ${fields.join(', ')})`);
      }
    }
  });
  return [...(parsed.data.include_defaults ? DEFAULT_RULES : []), ...(parsed.data.rules as AlertRule[])];
}

/** The rules in force: the defaults, plus (or instead) those of the ALERT_RULES file. */
export function loadAlertRules(file: string | undefined): AlertRule[] {
  if (file === undefined) return [...DEFAULT_RULES];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config: ALERT_RULES=${JSON.stringify(file)} is invalid: cannot read it: ${(err as Error).message}`);
  }
  return parseAlertRules(text, file);
}

function holds(value: unknown, c: Condition): boolean {
  if (c !== null && typeof c === 'object') return c.in.some((v) => v === value);
  return value === c || (typeof c === 'number' && typeof value === 'bigint' && BigInt(c) === value);
}

export function matchingRules(rules: readonly AlertRule[], event: { type: string; data: unknown }): AlertRule[] {
  const data = (event.data ?? {}) as Record<string, unknown>;
  return rules.filter((r) => r.type === event.type && Object.entries(r.when).every(([field, c]) => holds(data[field] ?? null, c)));
}
