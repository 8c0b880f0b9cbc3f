import { Client, Connection } from '@temporalio/client';
import { ApiClient, TOKENS } from './http.js';
import { cleanupAll, installSignalHandlers, startStack } from './stack.js';
import { sleep } from './stats.js';
installSignalHandlers();
const ts = (e: any) => Number(e.eventTime.seconds) * 1000 + Math.floor(e.eventTime.nanos / 1e6);
try {
  const stack = await startStack({ requestTtl: '60s', namespace: 'lockbox', log: (l) => console.error(l) });
  const api = new ApiClient(stack.apiUrl);
  const conn = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection: conn, namespace: 'lockbox' });
  for (let k = 0; k < 12; k++) {
    const c = await api.expect(201, 'POST', '/v1/requests', TOKENS.engineer, { tenant: 'contoso', resource: `mailbox:p${k}@contoso.com`, reason: 'probe', duration: '1s' });
    const id = c.body.id;
    await sleep(k % 2 ? 300 : 0);
    const g = await api.call('GET', `/v1/requests/${id}`, TOKENS.approver);
    const t0 = Date.now();
    const a = await api.expect(200, 'POST', `/v1/requests/${id}/approve`, TOKENS.approver, {});
    const t1 = Date.now();
    const hist = await client.workflow.getHandle(id).fetchHistory();
    const ev = hist.events!;
    const acc = ev.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes)!;
    const done = ev.find((e) => e.workflowExecutionUpdateCompletedEventAttributes)!;
    // WFT that accepted the update
    const idx = ev.indexOf(acc);
    const sched = [...ev.slice(0, idx)].reverse().find((e) => e.workflowTaskScheduledEventAttributes)!;
    console.log(`create ${c.ms.toFixed(0)} get ${g.ms.toFixed(0)} approve ${a.ms.toFixed(0)} | sent->WFTsched ${ts(sched) - t0} sched->accepted ${ts(acc) - ts(sched)} accepted->completed ${ts(done) - ts(acc)} completed->return ${t1 - ts(done)}`);
  }
  await conn.close(); api.close();
} finally { await cleanupAll(); }
