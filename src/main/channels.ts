import { checkStoredSettings } from '../domain/settings-schema.js';
import { join } from 'node:path';
import type { AuditBacklog } from '../adapters/audit/backlog-tracking-sink.js';
import { createFanoutAuditSink } from '../adapters/audit/fanout-audit-sink.js';
import { createHttpAuditSink } from '../adapters/audit/http-audit-sink.js';
import { openPostgresAuditSink } from '../adapters/audit/postgres-audit-sink.js';
import { openJsonlAuditSink } from '../adapters/jsonl-audit-sink.js';
import { createFanoutNotifier, type NamedNotifier } from '../adapters/notify/fanout-notifier.js';
import { createSlackNotifier } from '../adapters/notify/slack-notifier.js';
import { createSmtpNotifier, smtpOptionsFromUrl } from '../adapters/notify/smtp-notifier.js';
import { createWebhookNotifier } from '../adapters/notify/webhook-notifier.js';
import { createStoreNotifier } from '../adapters/store-notifier.js';
import type { Config } from '../config/index.js';
import type { GuardedHttp } from '../adapters/http/guarded-http.js';
import type { NotifyChannel } from '../domain/settings.js';
import type { AuditExporter, AuditSink } from '../ports/audit-sink.js';
import type { Notifier } from '../ports/notifier.js';
import type { Store } from '../ports/store.js';
import { auditBacklog } from './metrics.js';

/**
 * The audit sinks configured in LOCKBOX_AUDIT_SINKS, all at once. The first storing sink (jsonl or postgres) is the
 * primary: the pull API and the per-request audit read from it; every sink de-duplicates by event id. Each sink's
 * failed exports are counted on the process's metrics (`lockbox_audit_export_backlog_events{sink}`, ...).
 */
export function openAuditSinks(config: Config, http?: GuardedHttp, backlog: AuditBacklog = auditBacklog): AuditSink {
  const storing: AuditSink[] = [];
  const others: AuditExporter[] = [];
  for (const name of config.audit.sinks) {
    if (name === 'jsonl') storing.push(backlog.track('jsonl', openJsonlAuditSink(join(config.dataDir, 'audit.jsonl'))));
    if (name === 'postgres' && config.audit.databaseUrl) storing.push(backlog.track('postgres', openPostgresAuditSink(config.audit.databaseUrl)));
    if (name === 'http' && config.audit.http.url) {
      const h = config.audit.http;
      others.push(backlog.track('http', createHttpAuditSink({ url: h.url!, format: h.format, secret: h.secret, splunkToken: h.splunkToken, http })));
    }
  }
  const [primary, ...rest] = storing;
  if (!primary) throw new Error('no storing audit sink configured');
  return createFanoutAuditSink(primary, [...rest, ...others]);
}

/**
 * Notification channels: the in-app list always; e-mail, Slack and a signed webhook where configured. A tenant's
 * settings may narrow the external channels (`channels`); a failing channel fails the delivery, so the workflow
 * retries it and, in the end, audits `notification.failed`.
 */
export function openNotifier(config: Config, store: Store, http?: GuardedHttp): { notifier: Notifier; close(): Promise<void> } {
  const portalBaseUrl = config.notify.portalUrl;
  const external: Array<NamedNotifier & { channel: NotifyChannel; close?: () => Promise<void> }> = [];
  if (config.notify.smtpUrl) {
    const smtp = createSmtpNotifier(smtpOptionsFromUrl(config.notify.smtpUrl, { portalBaseUrl }));
    external.push({ name: 'smtp', channel: 'email', notifier: smtp, close: () => smtp.close() });
  }
  if (config.notify.slackWebhookUrl) {
    external.push({ name: 'slack', channel: 'slack', notifier: createSlackNotifier({ webhookUrl: config.notify.slackWebhookUrl, portalBaseUrl, http }) });
  }
  if (config.notify.webhookUrl && config.notify.webhookSecret) {
    const webhook = createWebhookNotifier({ url: config.notify.webhookUrl, secret: config.notify.webhookSecret, portalBaseUrl, http });
    external.push({ name: 'webhook', channel: 'webhook', notifier: webhook });
  }
  const inApp: NamedNotifier = { name: 'in-app', notifier: createStoreNotifier(store) };
  const byChoice = new Map<string, Notifier>();
  const fanoutFor = (channels: readonly NotifyChannel[] | undefined): Notifier => {
    const chosen = external.filter((c) => !channels || channels.includes(c.channel));
    const key = chosen.map((c) => c.name).join(',');
    let n = byChoice.get(key);
    if (!n) {
      n = createFanoutNotifier([inApp, ...chosen]);
      byChoice.set(key, n);
    }
    return n;
  };
  return {
    notifier: {
      async notify(n) {
        // A bad settings row narrows nothing: the message still goes out on every configured channel.
        const stored = await store.getTenantSettings(n.tenant);
        const checked = stored ? checkStoredSettings(stored.settings) : null;
        await fanoutFor(checked?.ok ? checked.settings.channels : undefined).notify(n);
      },
    },
    async close() {
      await Promise.all(external.map((c) => c.close?.()));
    },
  };
}
