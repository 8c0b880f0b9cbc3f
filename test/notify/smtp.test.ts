/**
 * E-mail to approvers through a REAL SMTP server (the `smtp-server` package) started by the test, with the message
 * the domain really writes for an approver. Personas: eve asks, alice approves.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../src/adapters/http-signing.js';
import { createSmtpNotifier, smtpOptionsFromUrl, type SmtpNotifierOptions } from '../../src/adapters/notify/smtp-notifier.js';
import { approvalNeeded } from '../../src/domain/messages.js';
import type { AccessRequest } from '../../src/domain/request.js';
import { closedPort } from '../audit/pg-support.js';

const PASSWORD = 'smtp-pass-91c2-do-not-leak';

/** The fields the approver message is written from; the rest of a request does not matter to it. */
const REQUEST: Pick<AccessRequest, 'id' | 'tenant' | 'resource' | 'requester' | 'reason' | 'ticket' | 'duration' | 'expiresAt'> = {
  id: 'req-contoso-01JNQ3V8Z6K9W2X4Y5A7B8C9D0',
  tenant: 'contoso',
  resource: 'mailbox:bob@contoso.com',
  requester: 'eve@lockbox.dev',
  reason: 'INC-4711: mail flow to bob is broken',
  ticket: 'SUP-4711',
  duration: '4h',
  expiresAt: '2030-01-01T21:00:00.000Z',
};
const [TO_ALICE] = approvalNeeded(REQUEST as AccessRequest, ['alice@contoso.com'], new Date('2030-01-01T09:00:00.000Z'));

interface Mail {
  from: string | undefined;
  to: string[];
  user: string | undefined;
  raw: string;
}

/** Headers unfolded, body decoded from quoted-printable if it was: what a mail client shows. */
function readMail(raw: string): { headers: Record<string, string>; text: string } {
  const [head = '', ...rest] = raw.split('\r\n\r\n');
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n(?=[ \t])/g, '').split('\r\n')) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = rest.join('\r\n\r\n');
  if (/quoted-printable/i.test(headers['content-transfer-encoding'] ?? '')) {
    const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    body = Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return { headers, text: body.replace(/\r\n/g, '\n') };
}

describe('SMTP notifier', () => {
  const servers: SMTPServer[] = [];

  async function smtpServer(options: SMTPServerOptions = {}): Promise<{ port: number; mails: Mail[] }> {
    const mails: Mail[] = [];
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      ...options,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
            to: session.envelope.rcptTo.map((r) => r.address),
            user: session.user as string | undefined,
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.server.address() as AddressInfo).port, mails };
  }

  const notifier = (port: number, extra: Partial<SmtpNotifierOptions> = {}) =>
    createSmtpNotifier({ host: '127.0.0.1', port, secure: false, from: 'Lockbox <lockbox@lockbox.dev>', timeoutMs: 3_000, ...extra });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  it('the approver gets who, which resource, why, the ticket, the duration, the expiry and a portal link', async () => {
    if (!TO_ALICE) throw new Error('no message');
    const { port, mails } = await smtpServer();
    const n = notifier(port, { portalBaseUrl: 'https://lockbox.example.com/' });
    await n.notify(TO_ALICE);
    await n.close();

    expect(mails).toHaveLength(1);
    const [mail] = mails;
    expect(mail?.to).toEqual(['alice@contoso.com']);
    expect(mail?.from).toBe('lockbox@lockbox.dev');
    const { headers, text } = readMail(mail?.raw ?? '');
    expect(headers.subject).toBe('[Lockbox] eve@lockbox.dev requests access to mailbox:bob@contoso.com');
    expect(headers['x-lockbox-request']).toBe(REQUEST.id);
    for (const fact of [
      'eve@lockbox.dev', // who
      'mailbox:bob@contoso.com', // which resource
      'INC-4711: mail flow to bob is broken', // why
      'SUP-4711', // ticket
      'for 4h', // requested duration
      '2030-01-01T21:00:00.000Z', // when it expires
      `https://lockbox.example.com/requests/${REQUEST.id}`,
    ]) {
      expect(text).toContain(fact);
    }
    expect(text.startsWith(TO_ALICE.body)).toBe(true); // the domain's text, unchanged
  });

  it('a retried send carries the same Message-ID, so mail systems can show it once', async () => {
    if (!TO_ALICE) throw new Error('no message');
    const { port, mails } = await smtpServer();
    const n = notifier(port);
    await n.notify(TO_ALICE);
    await n.notify(TO_ALICE);
    const [a, b] = mails.map((m) => readMail(m.raw).headers['message-id']);
    expect(a).toMatch(/^<[0-9a-f]{32}@lockbox>$/);
    expect(b).toBe(a);
  });

  it('logs in when given credentials; a refused login throws without the password', async () => {
    if (!TO_ALICE) throw new Error('no message');
    const { port, mails } = await smtpServer({
      authOptional: false,
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        if (auth.username === 'lockbox' && auth.password === PASSWORD) callback(null, { user: auth.username });
        else callback(new Error('Invalid username or password'));
      },
    });
    await notifier(port, { auth: { user: 'lockbox', pass: PASSWORD } }).notify(TO_ALICE);
    expect(mails[0]?.user).toBe('lockbox');

    const err = await notifier(port, { auth: { user: 'lockbox', pass: `${PASSWORD}-wrong` } }).notify(TO_ALICE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as Error).message).toMatch(/^e-mail to alice@contoso\.com via 127\.0\.0\.1:\d+ failed \(EAUTH 535\)$/);
    expect((err as Error).message).not.toContain(PASSWORD);
    expect(mails).toHaveLength(1);
  });

  it('throws when the server is unreachable, or the recipient has no address', async () => {
    if (!TO_ALICE) throw new Error('no message');
    const port = await closedPort();
    await expect(notifier(port, { auth: { user: 'lockbox', pass: PASSWORD } }).notify(TO_ALICE)).rejects.toThrow(
      /failed \(ESOCKET ECONNREFUSED\)/,
    );
    const { port: up } = await smtpServer();
    await expect(notifier(up).notify({ ...TO_ALICE, recipient: 'alice' })).rejects.toThrow(/no e-mail address for recipient alice/);
  });

  it('reads its options from one URL, and says what is wrong with a bad one without repeating it', () => {
    expect(smtpOptionsFromUrl('smtp://lockbox:p%40ss@mail.example.com:2525?from=lockbox@example.com')).toEqual({
      host: 'mail.example.com',
      port: 2525,
      secure: false,
      from: 'lockbox@example.com',
      auth: { user: 'lockbox', pass: 'p@ss' },
    });
    expect(smtpOptionsFromUrl('smtps://mail.example.com?from=x@example.com')).toMatchObject({ port: 465, secure: true });
    expect(() => smtpOptionsFromUrl('smtp://u:secretpw@mail.example.com')).toThrow(/needs a from= parameter/);
    expect(() => smtpOptionsFromUrl('http://u:secretpw@mail.example.com')).toThrow(/must start with smtp/);
    try {
      smtpOptionsFromUrl('smtp://u:secretpw@mail.example.com');
    } catch (err) {
      expect(String(err)).not.toContain('secretpw');
    }
  });
});
