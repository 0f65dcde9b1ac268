// The relay's broker settings: several hosts per URL, and the partition counts it is to create.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@relevo/runtime';
import { loadRelayConfig, wantedPartitions } from '../src/config.ts';

const base = { DATABASE_URL: 'postgres://relevo@localhost/relevo' };

describe('relay configuration', () => {
  it('takes several brokers in BROKER_URL and PULSAR_ADMIN_URL', () => {
    const config = loadRelayConfig({ ...base, BROKER_URL: 'pulsar://10.0.0.1:6650,10.0.0.2:6650', PULSAR_ADMIN_URL: 'http://10.0.0.1:8080,10.0.0.2:8080' });
    expect(config.BROKER_URL).toBe('pulsar://10.0.0.1:6650,10.0.0.2:6650');
    expect(config.PULSAR_ADMIN_URL).toBe('http://10.0.0.1:8080,10.0.0.2:8080');
  });

  it('refuses a broker or admin URL that is not a list of hosts, saying what it expects', () => {
    expect(() => loadRelayConfig({ ...base, BROKER_URL: 'pulsar://a:6650,' })).toThrow(/BROKER_URL=.*expected pulsar:\/\/host:port/);
    expect(() => loadRelayConfig({ ...base, PULSAR_ADMIN_URL: 'http://a:8080,b:80800' })).toThrow(/PULSAR_ADMIN_URL=.*several hosts/);
    expect(() => loadRelayConfig({ ...base, PULSAR_ADMIN_URL: 'pulsar://a:8080' })).toThrow(ConfigError);
  });

  it('names the topics to create partitioned, and no other', () => {
    expect(wantedPartitions(loadRelayConfig(base))).toEqual(new Map());
    expect(wantedPartitions(loadRelayConfig({ ...base, PULSAR_PARTITIONS_EVENTOS_PARTNERS: '4' })))
      .toEqual(new Map([['eventos-partners', 4]]));
    expect(wantedPartitions(loadRelayConfig({ ...base, PULSAR_PARTITIONS_EVENTOS_PARTNERS: '4', PULSAR_PARTITIONS_ADMINISTRACION_FINANCIERA_COMPLIANCE: '2' })))
      .toEqual(new Map([['eventos-partners', 4], ['administracion-financiera-compliance', 2]]));
    for (const bad of ['0', '-1', '2.5', 'many', '2000']) {
      expect(() => loadRelayConfig({ ...base, PULSAR_PARTITIONS_EVENTOS_PARTNERS: bad }), bad).toThrow(ConfigError);
    }
  });
});
