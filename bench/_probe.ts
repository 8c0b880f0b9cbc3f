import { Client, Connection } from '@temporalio/client';
import { ApiClient, TOKENS } from './http.js';
import { cleanupAll, installSignalHandlers, startStack } from './stack.js';
import { sleep } from './stats.js';
installSignalHandlers();
try {
  const stack = await startStack({ requestTtl: '60s', namespace: 'lockbox', log: (l) => console.error(l) });
  console.log(stack.lockboxPid, stack.launcherPid, stack.temporalPid);
  const api = new ApiClient(stack.apiUrl);
  const conn = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection: conn, namespace: 'lockbox' });
  for (let k = 0; k < 3; k++) {
  const c = await api.expect(201, 'POST', '/v1/requests', TOKENS.engineer, { tenant: 'contoso', resource: `mailbox:p${k}@contoso.com`, reason: 'probe', duration: '1s' });
  const id = c.body.id;
  console.log('create ms', c.ms);
  const a = await api.expect(200, 'POST', `/v1/requests/${id}/approve`, TOKENS.approver, {});
  console.log('approve ms', a.ms, a.body.status, a.body.access);
  const ch = await api.call('GET', `/v1/access/check?tenant=contoso&resource=mailbox:p${k}@contoso.com`, TOKENS.engineer);
  console.log('check', ch.ms, ch.body);
  await sleep(2500);
  const au = await api.call('GET', `/v1/requests/${id}/audit`, TOKENS.engineer);
  console.log(au.body.events.map((e: any) => `${e.seq} ${e.time} ${e.type}`).join('\n'));
  const hist = await client.workflow.getHandle(id).fetchHistory();
  if (k === 2) for (const e of hist.events ?? []) {
    const t = new Date(Number(e.eventTime!.seconds) * 1000 + Math.floor(e.eventTime!.nanos! / 1e6)).toISOString();
    const kind = Object.keys(e).find((x) => x.endsWith('Attributes') && (e as any)[x]);
    const attrs = (e as any)[kind!];
    console.log(e.eventId?.toString(), t, e.eventType, kind, attrs?.activityType?.name ?? attrs?.markerName ?? attrs?.startToFireTimeout?.seconds ?? '');
  }
  }
  const st = await client.workflow.list({ query: "WorkflowType='accessRequestWorkflow'" });
  for await (const w of st) console.log(w.workflowId, w.status.name, w.historyLength);
  await conn.close();
  api.close();
} finally {
  await cleanupAll();
}
