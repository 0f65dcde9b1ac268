// Alert rules: the built-in defaults, matching, and a malformed file named by line and field.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@relevo/runtime';
import { DEFAULT_RULES, loadAlertRules, matchingRules, parseAlertRules } from '@relevo/consumers';

const kyc = (estado_kyc: string) => ({ type: 'KYCVerificado', data: { partner_id: 'p', version: 2, estado_kyc, motivo: null } });

describe('alert rules', () => {
  it('defaults: KYC rejected (critical) and integration revoked (warning)', () => {
    expect(loadAlertRules(undefined)).toEqual(DEFAULT_RULES);
    expect(matchingRules(DEFAULT_RULES, kyc('RECHAZADO')).map((r) => [r.name, r.severity])).toEqual([['kyc-rechazado', 'critical']]);
    expect(matchingRules(DEFAULT_RULES, kyc('VERIFICADO'))).toEqual([]);
    expect(matchingRules(DEFAULT_RULES, { type: 'IntegracionRevocada', data: {} }).map((r) => r.name)).toEqual(['integracion-revocada']);
  });

  it('a file adds rules with equality and "in" conditions, or replaces the defaults', () => {
    const rules = parseAlertRules(JSON.stringify({
      rules: [{ name: 'suspendido', type: 'PartnerActualizado', when: { estado: { in: ['SUSPENDIDO', 'INACTIVO'] } }, severity: 'info' }],
    }), 'r.json');
    expect(rules.map((r) => r.name)).toEqual(['kyc-rechazado', 'integracion-revocada', 'suspendido']);
    expect(matchingRules(rules, { type: 'PartnerActualizado', data: { estado: 'INACTIVO' } }).map((r) => r.name)).toEqual(['suspendido']);
    expect(matchingRules(rules, { type: 'PartnerActualizado', data: { estado: 'ACTIVO' } })).toEqual([]);
    const only = parseAlertRules('{ "include_defaults": false, "rules": [] }', 'r.json');
    expect(only).toEqual([]);
  });

  const bad = (text: string) => {
    try {
      parseAlertRules(text, '/etc/relevo/rules.json');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected the rules to be refused');
  };
  const file = (...lines: string[]) => lines.join('\n');

  it.each([
    [file('{', '  "rules": [', '    { "name": "a", "type": "KYCVerificado", "severity": "critical" },', '    { "name": "b", "type": "KYCVerificado", "severity": "urgent" }', '  ]', '}'),
      'line 4, rules[1].severity: expected one of info, warning, critical'],
    [file('{', '  "rules": [', '    { "name": "a", "type": "KYCVerificadoo", "severity": "info" }', '  ]', '}'),
      'line 3, rules[0].type: expected one of PartnerCreado'],
    [file('{', '  "rules": [', '    { "name": "a", "type": "KYCVerificado",', '      "when": { "estado_kcy": "RECHAZADO" },', '      "severity": "info" }', '  ]', '}'),
      'line 4, rules[0].when.estado_kcy: KYCVerificado has no field "estado_kcy" (its fields: partner_id, version, estado_kyc, motivo)'],
    [file('{', '  "rules": [', '    { "name": "a", "type": "KYCVerificado", "severity": "info", "level": 3 }', '  ]', '}'),
      'line 3, rules[0].level: unknown field'],
    [file('{', '  "rules": [', '    { "name": "a", "type": "KYCVerificado", "severity": "info" }', '    { "name": "b" }', '  ]', '}'),
      "line 4, column 5: not valid JSON: expected ',' or ']' in the list"],
    [file('{ "rules": [ { "name": "kyc-rechazado", "type": "KYCVerificado", "severity": "info" } ] }'),
      'line 1, rules[0].name: "kyc-rechazado" is already a rule name'],
    [file('{', '  "rules": {}', '}'), 'line 2, rules: '],
    ['', 'line 1, column 1: not valid JSON: unexpected end of the file'],
  ])('refuses %j with one line naming the file, line and field', (text, expected) => {
    const message = bad(text);
    expect(message).not.toContain('\n');
    expect(message).toContain('config: ALERT_RULES="/etc/relevo/rules.json" is invalid: ');
    expect(message).toContain(expected);
  });

  it('an unreadable file is refused too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'relevo-rules-'));
    expect(() => loadAlertRules(join(dir, 'missing.json'))).toThrow(/ALERT_RULES=".*missing.json" is invalid: cannot read it/);
    writeFileSync(join(dir, 'ok.json'), '{"rules":[]}');
    expect(loadAlertRules(join(dir, 'ok.json'))).toEqual(DEFAULT_RULES);
  });
});
