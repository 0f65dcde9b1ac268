// The public endpoints: no token needed, no database needed for the documents.
import { describe, expect, it } from 'vitest';
import { connectDatabase } from '@relevo/db';
import { createLogger } from '@relevo/runtime';
import { createApp } from '../src/index.ts';
import { PRINCIPAL_SECRET, TOKENS } from './support/tokens.ts';

// Never queried by these tests: the documents and liveness do not touch the database.
const database = connectDatabase('postgres://postgres@127.0.0.1:1/unused', { max: 1 });
const app = createApp({ database, tokens: TOKENS, principalSecret: PRINCIPAL_SECRET, log: createLogger('api-test', 'silent') });

const OPERATIONS = [
  ['post', '/v1/partners'],
  ['get', '/v1/partners'],
  ['get', '/v1/partners/{id}'],
  ['patch', '/v1/partners/{id}'],
  ['delete', '/v1/partners/{id}'],
  ['post', '/v1/partners/{id}/kyc'],
  ['post', '/v1/partners/{id}/integrations'],
  ['get', '/v1/partners/{id}/integrations'],
  ['get', '/v1/integrations/{id}'],
  ['post', '/v1/integrations/{id}/revoke'],
  ['get', '/health/live'],
  ['get', '/health/ready'],
] as const;

describe('public endpoints', () => {
  it('/openapi.json is generated from the route schemas', async () => {
    const res = await app.request('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    for (const [method, path] of OPERATIONS) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.CreatePartner).toMatchObject({ required: ['nombre', 'email'], additionalProperties: false });
    expect(doc.paths['/v1/partners'].post.security).toEqual([{ bearerAuth: ['write'] }]);
    expect(doc.paths['/health/live'].get.security).toBeUndefined();
    const headerParams = doc.paths['/v1/partners/{id}/kyc'].post.parameters.filter((p: { in: string }) => p.in === 'header').map((p: { name: string }) => p.name);
    expect(headerParams.sort()).toEqual(['idempotency-key', 'if-match']);
  });

  it('/docs is Swagger UI served from the API itself: every asset it names is local and answers, under a self-only CSP', async () => {
    const res = await app.request('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self';.*style-src 'self';/);
    const html = await res.text();
    expect(html).not.toMatch(/https?:\/\/|<script>|<style|style=/i);
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(['/docs/assets/favicon-32x32.png', '/docs/assets/swagger-ui.css', '/docs/assets/swagger-ui-bundle.js', '/docs/assets/relevo-docs.js']);
    for (const asset of assets) {
      const a = await app.request(asset);
      expect(a.status, asset).toBe(200);
      expect(a.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect(await (await app.request('/docs/assets/relevo-docs.js')).text()).toContain("url: '/openapi.json'");
    expect((await app.request('/docs/assets/package.json')).status).toBe(404);
    expect((await app.request('/docs/assets/..%2Fpackage.json')).status).toBe(404);
  });

  it('/health/live needs no token', async () => {
    expect((await app.request('/health/live')).status).toBe(200);
  });
});
