// The clause builder every optional-filter listing uses: each value gets the next `$n`, in
// the order the conditions are added, and a filter without a value adds nothing.
import { describe, expect, it } from 'vitest';
import { Clauses } from '../src/query.ts';

describe('Clauses', () => {
  it('numbers each bound value in order, across filters and plain binds', () => {
    const c = new Clauses();
    const at = c.bind(new Date('2024-01-02T03:04:05.678Z'));
    c.require(`sent_at >= ${at}`)
      .filter('topic = ?', 'partners')
      .filter('id > ?::bigint', 42n);
    const limit = c.bind(100);
    expect(c.where()).toBe('where sent_at >= $1 and topic = $2 and id > $3::bigint');
    expect(limit).toBe('$4');
    expect(c.values).toEqual(['2024-01-02T03:04:05.678Z', 'partners', '42', 100]);
  });

  it('adds nothing for an undefined, null or empty-string filter, and numbers the next value on', () => {
    const c = new Clauses()
      .filter('event_type = ?', undefined)
      .filter('topic = ?', '')
      .filter('aggregate_id = ?::uuid', null)
      .filter('estado = ?', 'ACTIVO');
    expect(c.where()).toBe('where estado = $1');
    expect(c.values).toEqual(['ACTIVO']);
  });

  it('keeps falsy values that are values: 0, 0n and false', () => {
    const c = new Clauses().filter('attempts = ?', 0).filter('id > ?::bigint', 0n).filter('flag = ?', false);
    expect(c.where()).toBe('where attempts = $1 and id > $2::bigint and flag = $3');
    expect(c.values).toEqual([0, '0', false]);
  });

  it('is no where clause at all without conditions; a bound limit is still $1', () => {
    const c = new Clauses().filter('topic = ?', undefined);
    expect(c.where()).toBe('');
    expect(c.bind(10)).toBe('$1');
  });

  it('adds a condition that binds nothing without taking a number', () => {
    const c = new Clauses().require('deleted_at is null').filter('estado = ?', 'ACTIVO');
    expect(c.where()).toBe('where deleted_at is null and estado = $1');
  });
});
