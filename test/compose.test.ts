// docker-compose.yml as shipped: no default API token or principal secret, every published
// port on 127.0.0.1 unless RELEVO_PUBLISH_ADDRESS says otherwise, the broker's admin API not
// published. The file is read as YAML; compose's own `${VAR:-default}` / `${VAR:?message}`
// interpolation is applied by hand, as compose would with the variables unset.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Service { environment?: Record<string, string>; ports?: string[] }
const compose = parse(readFileSync(fileURLToPath(new URL('../docker-compose.yml', import.meta.url)), 'utf8'), { merge: true }) as { services: Record<string, Service> };

/** Compose's interpolation with nothing set: the default, or the `:?` error message. */
function interpolate(value: string): { value: string; errors: string[] } {
  const errors: string[] = [];
  const out = value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_m, _name: string, op?: string, arg?: string) => {
    if (op === '?') errors.push(arg ?? '');
    return op === '-' ? (arg ?? '') : '';
  });
  return { value: out, errors };
}

describe('docker-compose.yml', () => {
  it('has no default API token or principal secret: compose refuses to start without them, saying how to set them', () => {
    const env = compose.services.api!.environment!;
    for (const name of ['API_TOKENS', 'API_PRINCIPAL_SECRET']) {
      const { value, errors } = interpolate(env[name]!);
      expect(value, name).toBe('');
      expect(errors, name).toEqual([expect.stringContaining(`set ${name} to`)]);
    }
  });

  it('publishes every port on 127.0.0.1 by default', () => {
    const published = Object.entries(compose.services).flatMap(([service, s]) => (s.ports ?? []).map((p) => [service, interpolate(p).value] as const));
    expect(published.length).toBeGreaterThanOrEqual(5);
    for (const [service, port] of published) expect(port, service).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });

  it("does not publish the broker's admin API", () => {
    const ports = (compose.services.pulsar!.ports ?? []).map((p) => interpolate(p).value);
    expect(ports).toEqual(['127.0.0.1:6650:6650']);
    // The relay still reaches it inside the compose network.
    expect(compose.services.relay!.environment!.PULSAR_ADMIN_URL).toBe('http://pulsar:8080');
  });
});
