// The operator page's last hour at a glance — backlog, publish lag and events/s as small
// inline SVG charts (GET /v1/outbox/history) — and its dead letters per consumer (GET
// /v1/dead-letters). Pieces of the page in operator-page.ts: markup, style, and script that
// runs inside its script (same nonce; `api`, `cell` and `fill` are the page's). The charts
// are drawn with SVG elements and presentation attributes only: no inline style, no library.

export const CHARTS_STYLE = `
  .charts { display: flex; gap: 1rem; flex-wrap: wrap; }
  figure.chart { margin: 0; border: 1px solid #c9ced8; padding: .4rem .5rem; width: 20rem; }
  figure.chart figcaption { display: flex; justify-content: space-between; font-weight: 600; }
  figure.chart figcaption .now { font-variant-numeric: tabular-nums; font-weight: 400; }
  figure.chart svg { display: block; width: 100%; height: 5.5rem; }
  figure.chart .scale { display: flex; justify-content: space-between; color: #5b6475; font-size: 11px; }
`;

export const CHARTS_HTML = `
  <h2>Last hour</h2>
  <div class="charts">
    <figure class="chart" id="chart-backlog"><figcaption>Backlog <span class="now"></span></figcaption></figure>
    <figure class="chart" id="chart-lag"><figcaption>Publish lag <span class="now"></span></figcaption></figure>
    <figure class="chart" id="chart-rate"><figcaption>Events/s <span class="now"></span></figcaption></figure>
  </div>
  <h2>Dead letters</h2>
  <p>Messages the consumers gave up on, kept until replayed or purged with <code>relevo dlq</code>.
  <span id="dead-letters-error"></span></p>
  <table id="dead-letters" aria-label="Dead letters per consumer">
    <thead><tr><th scope="col">Consumer</th><th scope="col">Dead-letter topic</th><th scope="col">Pending</th></tr></thead>
    <tbody></tbody></table>
`;

export const CHARTS_SCRIPT = `
  const SVG = 'http://www.w3.org/2000/svg';
  const W = 300, H = 80;

  function svgEl(name, attrs) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
  }

  const fmt = {
    count: (v) => String(Math.round(v)),
    seconds: (v) => v < 1 ? Math.round(v * 1000) + ' ms' : v < 120 ? v.toFixed(1) + ' s' : Math.round(v / 60) + ' min',
    rate: (v) => v < 10 ? v.toFixed(2) : String(Math.round(v)),
  };

  // One chart: the values as a line over a shaded area, 0 at the bottom, the window's maximum at the top.
  function chart(id, points, key, kind, label) {
    const fig = $(id);
    const values = points.map((p) => p[key]);
    const max = Math.max(...values, kind === 'count' ? 1 : 0.001);
    const x = (i) => (values.length < 2 ? W : (i * W) / (values.length - 1));
    const y = (v) => H - (v / max) * (H - 4) - 2;
    const line = values.map((v, i) => x(i).toFixed(1) + ',' + y(v).toFixed(1)).join(' ');
    const now = values.length ? values[values.length - 1] : 0;
    const svg = svgEl('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img',
      'aria-label': label + ' over the last hour: now ' + fmt[kind](now) + ', at most ' + fmt[kind](Math.max(...values, 0)) });
    svg.append(
      svgEl('line', { x1: 0, y1: H - 1, x2: W, y2: H - 1, stroke: '#c9ced8', 'stroke-width': 1 }),
      svgEl('polygon', { points: '0,' + H + ' ' + line + ' ' + W + ',' + H, fill: '#dbe7fb' }),
      svgEl('polyline', { points: line, fill: 'none', stroke: '#2456b3', 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke' }),
    );
    const scale = document.createElement('div');
    scale.className = 'scale';
    const from = document.createElement('span');
    from.textContent = points.length ? new Date(points[0].at).toLocaleTimeString() : '';
    const top = document.createElement('span');
    top.textContent = 'max ' + fmt[kind](Math.max(...values, 0));
    scale.append(from, top);
    fig.querySelector('.now').textContent = fmt[kind](now);
    fig.replaceChildren(fig.querySelector('figcaption'), svg, scale);
  }

  function renderCharts(history) {
    chart('chart-backlog', history.points, 'backlog', 'count', 'Backlog');
    chart('chart-lag', history.points, 'publish_lag_seconds', 'seconds', 'Publish lag');
    chart('chart-rate', history.points, 'events_per_second', 'rate', 'Events per second');
  }

  function renderDeadLetters(data) {
    fill($('dead-letters').tBodies[0], data.topics.map((t) => [cell(t.consumer), cell(t.dead_letter_topic),
      cell(t.pending === null ? 'unknown' : t.pending, t.pending ? 'num alert' : 'num')]));
    $('dead-letters-error').textContent = data.error ? 'Counts unavailable: ' + data.error : '';
  }
`;
