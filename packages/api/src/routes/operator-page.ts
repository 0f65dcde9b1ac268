// GET /outbox: a page for operators. The page itself holds no data and is public; its script
// asks for a token with the operator scope once (kept in sessionStorage, for this tab only)
// and calls the /v1/outbox endpoints with it; Retry and Skip are recorded under its name. Every value from the server is written with textContent,
// never as HTML, and a per-response nonce is the only way a script or style runs.
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { STATUS_SENT_WINDOW_SECONDS } from '@relevo/db';
import type { AppEnv } from '../context.ts';
import { CHARTS_HTML, CHARTS_SCRIPT, CHARTS_STYLE } from './operator-charts.ts';

const REFRESH_MS = 5_000;

const STYLE = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
  table { border-collapse: collapse; margin-bottom: .5rem; }
  caption { text-align: left; font-weight: 600; padding: .25rem 0; }
  th, td { border: 1px solid #c9ced8; padding: .25rem .5rem; text-align: left; vertical-align: top; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.actions { white-space: nowrap; }
  td.error { max-width: 32rem; overflow-wrap: anywhere; font-family: ui-monospace, monospace; font-size: 12px; }
  .bar { display: flex; gap: .75rem; align-items: center; flex-wrap: wrap; }
  #message { min-height: 1.4rem; margin: .75rem 0; }
  #message.error { color: #a11; }
  #message.ok { color: #175d2b; }
  [hidden] { display: none !important; }
  td.alert { color: #a11; font-weight: 600; }
${CHARTS_STYLE}`;

const SCRIPT = `
(() => {
  const TOKEN_KEY = 'relevo-operator-token';
  const $ = (id) => document.getElementById(id);
  let timer;

  function say(text, kind) {
    const m = $('message');
    m.textContent = text;
    m.className = kind;
  }

  async function api(path, body) {
    const init = { headers: { authorization: 'Bearer ' + sessionStorage.getItem(TOKEN_KEY) } };
    if (body !== undefined) {
      init.method = 'POST';
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(data.detail || (res.status + ' ' + res.statusText));
      err.status = res.status;
      throw err;
    }
    return data;
  }

  function cell(text, className) {
    const td = document.createElement('td');
    td.textContent = text === null || text === undefined ? '' : String(text);
    if (className) td.className = className;
    return td;
  }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows.map((cells) => {
      const tr = document.createElement('tr');
      tr.append(...cells);
      return tr;
    }));
  }

${CHARTS_SCRIPT}
  const counts = (c) => [cell(c.pending, 'num'), cell(c.backoff, 'num'), cell(c.parked, 'num')];
  const when = (iso) => iso ? new Date(iso).toLocaleString() : '';

  function actionButton(label, row, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.setAttribute('aria-label', label + ' row ' + row.id);
    b.addEventListener('click', onClick);
    return b;
  }

  async function act(row, action, body, done) {
    try {
      say(done(await api('/v1/outbox/' + encodeURIComponent(row.id) + '/' + action, body)), 'ok');
    } catch (err) {
      say('Row ' + row.id + ': ' + err.message, 'error');
    }
    await refresh();
  }

  function parkedRow(row) {
    const actions = document.createElement('td');
    actions.className = 'actions';
    actions.append(
      actionButton('Retry', row, () => act(row, 'retry', {},
        (done) => 'Row ' + row.id + ' re-queued by ' + done.retried_by + '; the relay was woken.')),
      ' ',
      actionButton('Skip', row, () => {
        const reason = prompt('Skip row ' + row.id + ' (' + row.event_type + '): why will it never be published?');
        if (reason === null) return;
        if (!reason.trim()) return say('Row ' + row.id + ' not skipped: a reason is required.', 'error');
        act(row, 'skip', { reason: reason.trim() },
          (done) => 'Row ' + row.id + ' skipped by ' + done.skipped_by + '; its partner is released.');
      }),
    );
    const retried = row.retried_at ? when(row.retried_at) + ' by ' + (row.retried_by || 'unknown') : '';
    return [cell(row.id, 'num'), cell(row.event_type), cell(row.aggregate_id), cell(row.aggregate_version, 'num'),
      cell(row.attempts, 'num'), cell(row.last_error, 'error'), cell(when(row.parked_at)), cell(retried), actions];
  }

  async function refresh() {
    try {
      // Every answer is awaited and the first failure in request order is the one shown, not
      // whichever came back first: a refused token always reads as refused for the status.
      const settled = await Promise.allSettled([api('/v1/outbox/status'), api('/v1/outbox/parked?limit=100'),
        api('/v1/outbox/skipped?limit=20'), api('/v1/outbox/history?window=1h'), api('/v1/dead-letters')]);
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
      const [status, parked, skipped, history, deadLetters] = settled.map((s) => s.value);
      renderCharts(history);
      renderDeadLetters(deadLetters);
      for (const state of ['pending', 'backoff', 'parked', 'sent', 'skipped']) $('total-' + state).textContent = String(status.totals[state]);
      $('oldest').textContent = status.oldest_unsent
        ? when(status.oldest_unsent) + ' (' + status.publish_lag_seconds.toFixed(1) + ' s ago)' : 'none';
      $('drains').textContent = status.active_drains.length
        ? status.active_drains.map((d) => 'shard ' + d.shard).join(', ') : 'none';
      fill($('shards').tBodies[0], status.by_shard.map((s) => [cell(s.shard, 'num'), ...counts(s.counts)]));
      fill($('topics').tBodies[0], status.by_topic.map((t) => [cell(t.topic), ...counts(t.counts)]));
      fill($('parked').tBodies[0], parked.items.map(parkedRow));
      $('no-parked').hidden = parked.items.length > 0;
      fill($('skipped').tBodies[0], skipped.items.map((row) => [cell(row.id, 'num'), cell(row.event_type), cell(row.aggregate_id),
        cell(when(row.skipped_at)), cell(row.skipped_by || 'unknown'), cell(row.skip_reason, 'error')]));
      $('no-skipped').hidden = skipped.items.length > 0;
      $('updated').textContent = 'Updated ' + new Date().toLocaleTimeString();
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        sessionStorage.removeItem(TOKEN_KEY);
        showLogin('The token was refused: ' + err.message);
      } else {
        say('Could not load the outbox: ' + err.message, 'error');
      }
    }
  }

  function schedule() {
    clearInterval(timer);
    if ($('auto').checked) timer = setInterval(refresh, ${REFRESH_MS});
  }

  function showLogin(text) {
    clearInterval(timer);
    $('login').hidden = false;
    $('dashboard').hidden = true;
    if (text) say(text, 'error');
  }

  function showDashboard() {
    $('login').hidden = true;
    $('dashboard').hidden = false;
    schedule();
    return refresh();
  }

  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('token').value.trim();
    if (!token) return say('Enter an operator token.', 'error');
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token').value = '';
    say('', '');
    showDashboard();
  });
  $('refresh').addEventListener('click', () => refresh());
  $('auto').addEventListener('change', schedule);
  $('signout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin();
    say('Signed out.', 'ok');
  });

  if (sessionStorage.getItem(TOKEN_KEY)) showDashboard(); else showLogin();
})();
`;

function page(nonce: string): string {
  const label = (s: string) => `${s[0]!.toUpperCase()}${s.slice(1)}${s === 'sent' ? ` in the last ${STATUS_SENT_WINDOW_SECONDS / 60} min` : ''}`;
  const totals = ['pending', 'backoff', 'parked', 'sent', 'skipped']
    .map((s) => `<tr><th scope="row">${label(s)}</th><td class="num" id="total-${s}">–</td></tr>`).join('');
  const backlogHead = '<th scope="col">Pending</th><th scope="col">Backoff</th><th scope="col">Parked</th>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>relevo · outbox</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<h1>relevo · outbox</h1>
<form id="login" hidden>
  <label for="token">Operator token</label>
  <input id="token" type="password" autocomplete="off" required>
  <button type="submit">Sign in</button>
</form>
<div id="message" role="status" aria-live="polite"></div>
<main id="dashboard" hidden>
  <div class="bar">
    <button type="button" id="refresh">Refresh</button>
    <label><input type="checkbox" id="auto" checked> Auto-refresh every ${REFRESH_MS / 1000} s</label>
    <span id="updated"></span>
    <button type="button" id="signout">Sign out</button>
  </div>
  <h2>Status</h2>
  <table aria-label="Totals"><caption>Rows by state</caption><tbody>${totals}</tbody></table>
  <p>Oldest unsent: <span id="oldest">–</span>. Shards being drained now: <span id="drains">–</span>.</p>
  <table id="shards" aria-label="Backlog per shard"><caption>Backlog per shard</caption>
    <thead><tr><th scope="col">Shard</th>${backlogHead}</tr></thead><tbody></tbody></table>
  <table id="topics" aria-label="Backlog per topic"><caption>Backlog per topic</caption>
    <thead><tr><th scope="col">Topic</th>${backlogHead}</tr></thead><tbody></tbody></table>
${CHARTS_HTML}
  <h2>Parked rows</h2>
  <p>A parked row failed every attempt; its partner's later rows wait behind it. Fix the cause,
  then Retry; or Skip it, with the reason, to release the partner without publishing it.</p>
  <table id="parked" aria-label="Parked rows">
    <thead><tr><th scope="col">Id</th><th scope="col">Event</th><th scope="col">Partner</th><th scope="col">Version</th>
      <th scope="col">Attempts</th><th scope="col">Last error</th><th scope="col">Parked since</th><th scope="col">Last retried</th>
      <th scope="col">Actions</th></tr></thead>
    <tbody></tbody></table>
  <p id="no-parked" hidden>No parked rows.</p>
  <h2>Recently skipped</h2>
  <table id="skipped" aria-label="Skipped rows">
    <thead><tr><th scope="col">Id</th><th scope="col">Event</th><th scope="col">Partner</th><th scope="col">Skipped</th>
      <th scope="col">By</th><th scope="col">Reason</th></tr></thead>
    <tbody></tbody></table>
  <p id="no-skipped" hidden>No skipped rows.</p>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
}

export function operatorPage(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/outbox', (c) => {
    const nonce = randomBytes(16).toString('base64');
    c.header('Content-Security-Policy', [
      "default-src 'none'", `script-src 'nonce-${nonce}'`, `style-src 'nonce-${nonce}'`, "connect-src 'self'",
      "form-action 'none'", "frame-ancestors 'none'", "base-uri 'none'",
    ].join('; '));
    c.header('Cache-Control', 'no-store');
    c.header('Referrer-Policy', 'no-referrer');
    return c.html(page(nonce));
  });
  return app;
}
