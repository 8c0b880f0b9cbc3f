import type { Distribution, EvidencePack } from './build.js';

const OUTCOME_COLOURS: Record<string, string> = {
  completed: '#2e7d32', revoked: '#1565c0', rejected: '#6a1b9a', expired: '#9e9e9e', cancelled: '#795548', failed: '#c62828',
  active: '#00838f', granting: '#00838f', pending: '#f9a825',
};

/**
 * The page's stylesheet, inline in the page. The portal serves the same text at `/portal/evidence.css`: it opens a
 * pack fetched with a bearer token from a blob: URL, which keeps the portal's CSP (no inline style), and links this
 * instead (docs/portal.md).
 */
export const EVIDENCE_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{border:1px solid #ccc;padding:3px 5px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.ok{color:#2e7d32;font-weight:bold}.bad{color:#c62828;font-weight:bold}code{font-size:11px;word-break:break-all}
figure{margin:1rem 0;break-inside:avoid}figcaption{font-weight:bold}@media print{body{margin:0}}
`;

/**
 * The evidence pack as one self-contained HTML page a person can read and print: no script, no external resource,
 * charts as inline SVG, every value escaped (a request's reason is the requester's own text).
 */
export function evidenceHtml(pack: EvidencePack): string {
  const outcomes = Object.keys(pack.counts).sort();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lockbox evidence: ${esc(pack.tenant)} ${esc(pack.from.slice(0, 10))} to ${esc(pack.to.slice(0, 10))}</title>
<style>
${EVIDENCE_CSS}</style></head><body>
<h1>Access evidence for tenant <em>${esc(pack.tenant)}</em></h1>
<p>Requests filed from ${esc(pack.from)} to ${esc(pack.to)} (UTC). Generated ${esc(pack.generatedAt)} by Lockbox from its hash-chained audit trail.</p>
<h2>Audit chain</h2>
<p class="${pack.chain.ok ? 'ok' : 'bad'}" id="chain-verdict">${pack.chain.ok ? 'Verified: ok' : 'BROKEN'} (${esc(pack.chain.detail)})</p>
<p>${pack.chain.events} events in the period; first chain hash <code>${esc(pack.chain.firstHash ?? '-')}</code>, last <code>${esc(pack.chain.lastHash ?? '-')}</code>.</p>
<h2>Summary</h2>
<table id="counts"><tr><th>outcome</th><th>requests</th></tr>${outcomes.map((o) => `<tr><td>${esc(o)}</td><td>${pack.counts[o]}</td></tr>`).join('')}
<tr><th>total</th><th>${pack.requests.length}</th></tr></table>
<p>Time to first decision: ${dist(pack.timeToDecisionMs)}. Access duration: ${dist(pack.accessDurationMs)}.</p>
${emergencySummary(pack)}
${stackedBars(pack)}
${histogram('chart-decision', 'Time to first decision (minutes)', pack.requests.map((r) => r.timeToDecisionMs))}
${histogram('chart-duration', 'Access duration (minutes)', pack.requests.map((r) => r.accessDurationMs))}
<h2>Requests</h2>
<table id="requests"><tr><th>request</th><th>requester</th><th>resource</th><th>reason / ticket</th><th>approvers (login time)</th><th>granted</th><th>ended</th><th>revoke verified</th><th>outcome</th></tr>
${pack.requests
  .map(
    (r) => `<tr><td><code>${esc(r.id)}</code><br>${esc(r.createdAt)}</td><td>${esc(r.requester)}</td><td>${esc(r.resource)}</td><td>${esc(r.reason ?? '')}<br>${esc(r.ticket ?? '')}</td>
<td>${r.approvers.map((a) => `${esc(a.actor)}${a.authTime ? ` (signed in ${esc(a.authTime)})` : ''}`).join('<br>') || (r.rejectedBy ? `rejected by ${esc(r.rejectedBy)}` : '-')}</td>
<td>${esc(r.grantedAt ?? '-')}</td><td>${esc(r.revokedAt ?? '-')}</td><td>${r.revokeVerified === null ? '-' : r.revokeVerified ? 'yes' : 'NO'}</td><td>${esc(r.outcome)}${flags(r)}</td></tr>`,
  )
  .join('\n')}
</table>
</body></html>
`;
}

/** Break-glass in the period: how many, and how their reviews went; unreviewed ones stand out. */
function emergencySummary(pack: EvidencePack): string {
  const e = pack.emergency;
  if (e.total === 0) return '<p id="emergency">Emergency (break-glass) requests: none.</p>';
  const open = e.overdue + e.pending;
  return `<p id="emergency" class="${open > 0 ? 'bad' : 'ok'}">Emergency (break-glass) requests: ${e.total}; reviewed justified ${e.justified}, unjustified ${e.unjustified}, overdue (unreviewed) ${e.overdue}, review pending ${e.pending}.</p>`;
}

/** Under the outcome: EMERGENCY with its review, and escalated stages. */
function flags(r: EvidencePack['requests'][number]): string {
  const parts: string[] = [];
  if (r.emergency) {
    const by = r.emergency.reviewedBy ? ` by ${esc(r.emergency.reviewedBy)}` : '';
    const cls = r.emergency.review === 'justified' ? 'ok' : 'bad';
    parts.push(`<br><span class="${cls}">EMERGENCY, review: ${esc(r.emergency.review === 'overdue' ? 'overdue (UNREVIEWED)' : r.emergency.review)}${by}</span>`);
  }
  if (r.escalatedStages.length > 0) parts.push(`<br>escalated: ${esc(r.escalatedStages.join(', '))}`);
  return parts.join('');
}

function stackedBars(pack: EvidencePack): string {
  const days = pack.perDay;
  const max = Math.max(1, ...days.map((d) => Object.values(d.counts).reduce((a, b) => a + b, 0)));
  const w = Math.max(60 + Object.keys(pack.counts).length * 90, days.length * 28 + 60);
  const bars = days
    .map((d, i) => {
      let y = 180;
      return Object.entries(d.counts)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([outcome, n]) => {
          const h = (n / max) * 150;
          y -= h;
          return `<rect x="${50 + i * 28}" y="${y.toFixed(1)}" width="20" height="${h.toFixed(1)}" fill="${OUTCOME_COLOURS[outcome] ?? '#555'}"><title>${esc(d.day)} ${esc(outcome)}: ${n}</title></rect>`;
        })
        .join('');
    })
    .join('');
  const labels = days.map((d, i) => `<text x="${60 + i * 28}" y="196" font-size="9" text-anchor="middle">${esc(d.day.slice(5))}</text>`).join('');
  const legend = Object.keys(pack.counts).sort().map((o, i) => `<rect x="${50 + i * 90}" y="4" width="10" height="10" fill="${OUTCOME_COLOURS[o] ?? '#555'}"/><text x="${64 + i * 90}" y="13" font-size="10">${esc(o)}</text>`).join('');
  return `<figure id="chart-per-day"><figcaption>Requests per day by outcome</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="200" role="img" aria-label="requests per day by outcome">${legend}<line x1="45" y1="180" x2="${w}" y2="180" stroke="#999"/><text x="40" y="34" font-size="10" text-anchor="end">${max}</text>${bars}${labels}</svg></figure>`;
}

function histogram(id: string, title: string, values: readonly (number | null)[]): string {
  const minutes = values.filter((v): v is number => v !== null).map((v) => v / 60_000);
  const edges = [1, 5, 15, 60, 240, 720, Number.POSITIVE_INFINITY];
  const names = ['<1', '1-5', '5-15', '15-60', '60-240', '240-720', '>720'];
  const bins = edges.map(() => 0);
  for (const m of minutes) bins[edges.findIndex((e) => m < e)]! += 1;
  const max = Math.max(1, ...bins);
  const bars = bins
    .map((n, i) => {
      const h = (n / max) * 120;
      return `<rect x="${40 + i * 50}" y="${(140 - h).toFixed(1)}" width="36" height="${h.toFixed(1)}" fill="#1565c0"><title>${names[i]}: ${n}</title></rect><text x="${58 + i * 50}" y="156" font-size="9" text-anchor="middle">${names[i]}</text><text x="${58 + i * 50}" y="${(136 - h).toFixed(1)}" font-size="9" text-anchor="middle">${n}</text>`;
    })
    .join('');
  return `<figure id="${id}"><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="400" height="165" role="img" aria-label="${esc(title)}"><line x1="35" y1="140" x2="400" y2="140" stroke="#999"/>${bars}</svg></figure>`;
}

function dist(d: Distribution): string {
  if (d.count === 0) return 'none';
  const m = (ms: number | null) => (ms === null ? '-' : ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);
  return `median ${m(d.p50)}, 90th percentile ${m(d.p90)}, longest ${m(d.max)} (${d.count})`;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
