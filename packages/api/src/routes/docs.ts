// /openapi.json (generated from the zod schemas of the routes) and /docs, a self-contained
// HTML page rendered on the server from that same document: no CDN, no script, and a CSP
// that lets nothing else in either (only its own style sheet, by hash).
import { createHash } from 'node:crypto';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../context.ts';

const DOC_CONFIG = {
  openapi: '3.1.0',
  info: {
    title: 'relevo API',
    version: '1.0.0',
    description: 'Partners, KYC and integrations of gestión de integraciones. Every write commits its change and its outbox event together.',
  },
};

type Doc = ReturnType<OpenAPIHono<AppEnv>['getOpenAPI31Document']>;

export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer' });
  let cached: Doc | undefined;
  const doc = () => (cached ??= app.getOpenAPI31Document(DOC_CONFIG));
  app.get('/openapi.json', (c) => c.json(doc()));
  app.get('/docs', (c) => {
    c.header('Content-Security-Policy', DOCS_CSP);
    return c.html(renderDocs(doc()));
  });
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;max-width:80rem}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.4rem;vertical-align:top;text-align:left}
code.m{font-weight:bold}.get{color:#0a6}.post{color:#06c}.patch{color:#a60}.delete{color:#c00}
pre{background:#f6f6f6;padding:.5rem;overflow:auto}
`;

/** No script, no frame, no form, no other origin: the page's one style element, by its hash. */
const DOCS_CSP = [
  "default-src 'none'", `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'",
].join('; ');

const esc = (s: unknown) =>
  String(s ?? '').replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);

function schemaName(node: unknown): string {
  const ref = (node as { $ref?: string } | undefined)?.$ref;
  return ref ? ref.split('/').pop()! : node ? 'inline' : '';
}

export function renderDocs(doc: Doc): string {
  const rows: string[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of ['get', 'post', 'patch', 'put', 'delete'] as const) {
      const op = (item as Record<string, any>)[method];
      if (!op) continue;
      const params = ((op.parameters ?? []) as { name: string; in: string; required?: boolean }[])
        .map((p) => `${esc(p.name)} <small>(${esc(p.in)}${p.required ? ', required' : ''})</small>`).join('<br>');
      const body = schemaName(op.requestBody?.content?.['application/json']?.schema);
      const responses = Object.entries((op.responses ?? {}) as Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>)
        .map(([status, r]) => {
          const s = schemaName(Object.values(r.content ?? {})[0]?.schema);
          return `<b>${esc(status)}</b> ${esc(r.description)}${s ? ` <code>${esc(s)}</code>` : ''}`;
        }).join('<br>');
      rows.push(`<tr><td><code class="m ${method}">${method.toUpperCase()}</code></td><td><code>${esc(path)}</code></td>`
        + `<td>${esc(op.summary)}${op.security?.length ? ' 🔒' : ''}</td><td>${params}</td><td>${body ? `<code>${esc(body)}</code>` : ''}</td><td>${responses}</td></tr>`);
    }
  }
  const schemas = Object.entries(doc.components?.schemas ?? {})
    .map(([name, s]) => `<h3 id="${esc(name)}">${esc(name)}</h3><pre>${esc(JSON.stringify(s, null, 2))}</pre>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(doc.info.title)}</title>
<style>${STYLE}</style></head><body>
<h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1>
<p>${esc(doc.info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. 🔒 = needs <code>Authorization: Bearer &lt;token&gt;</code>.
Errors are <code>application/problem+json</code> (RFC 9457).</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Summary</th><th>Parameters</th><th>Body</th><th>Responses</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>
<h2>Schemas</h2>
${schemas}
</body></html>`;
}
