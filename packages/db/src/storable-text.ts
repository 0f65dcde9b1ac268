// PostgreSQL text and jsonb cannot hold U+0000: a text parameter with a NUL fails with 22021 and
// a jsonb value with "\u0000" with 22P05. Values that come from the network (the consumers'
// envelopes, message properties) are checked before they are written, so such a message fails
// once with a clear reason instead of with whatever statement meets it first; and a dead-letter
// record, which must always be written, stores the NUL as U+FFFD (test/consumers/hostile-avro.test.ts).

export class UnstorableTextError extends Error {
  readonly code = 'UNSTORABLE_TEXT';
  /** Where in the value the NUL is, e.g. "envelope.data.nombre". */
  readonly path: string;
  constructor(path: string) {
    super(`${path} holds U+0000, which PostgreSQL cannot store`);
    this.name = 'UnstorableTextError';
    this.path = path;
  }
}

/** The path of the first string or object key in value that holds U+0000, if any. */
export function nulPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value === null || typeof value !== 'object' || value instanceof Date || Buffer.isBuffer(value)) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPath(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    const at = `${path}.${k.replaceAll('\u0000', '\\u0000')}`;
    if (k.includes('\u0000')) return at;
    const found = nulPath(v, at);
    if (found) return found;
  }
  return undefined;
}

/** Throws UnstorableTextError naming the first value (by its name in `values`) that holds U+0000. */
export function assertStorable(values: Record<string, unknown>): void {
  const found = nulPath(values, '');
  if (found) throw new UnstorableTextError(found.slice(1));
}

/** The value with every U+0000 in its strings and keys replaced by U+FFFD, for records that must be written. */
export function storable<T>(value: T): T {
  if (typeof value === 'string') return value.replaceAll('\u0000', '\uFFFD') as T;
  if (value === null || typeof value !== 'object' || value instanceof Date || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map((v) => storable(v)) as T;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), storable(v)])) as T;
}
