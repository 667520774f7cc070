import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import type { AlertSeverity } from '../store/index.ts';

/*
 * Syslog per RFC 5424 (the message), RFC 6587 §3.4.1 (TCP: octet counting, `LEN SP MSG`) and
 * RFC 5426 (UDP: one message per datagram). The frame builder is pure; the transports only move bytes.
 */

/** Alert severity -> syslog severity: High 2 (critical), Medium 4 (warning), Low 5 (notice), Informational 6. */
export const SYSLOG_SEVERITY: Record<AlertSeverity, number> = { High: 2, Medium: 4, Low: 5, Informational: 6 };

/** Private enterprise number of the SD-ID: 32473, which RFC 5612 reserves for documentation and examples. */
export const SD_ID = 'arcsim@32473';

export interface SyslogMessage {
  facility: number;
  severity: number;
  /** epoch ms */
  time: number;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  /** SD-PARAMs of the one SD-ELEMENT `[arcsim@32473 ...]`. */
  data: Record<string, string>;
  msg: string;
}

/** Escapes an SD-PARAM value: `"`, `\` and `]` get a backslash (RFC 5424 §6.3.3). */
export function sdEscape(value: string): string {
  return value.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

/** The RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`. */
export function formatSyslog(m: SyslogMessage): string {
  const pri = m.facility * 8 + m.severity;
  const field = (v: string, max: number) => (v.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-');
  const params = Object.entries(m.data).map(([k, v]) => ` ${k}="${sdEscape(v)}"`).join('');
  const sd = params ? `[${SD_ID}${params}]` : '-';
  return `<${pri}>1 ${new Date(m.time).toISOString()} ${field(m.hostname, 255)} ${field(m.appName, 48)} ${field(m.procId, 128)} ${field(m.msgId, 32)} ${sd} ${m.msg}`;
}

/** RFC 6587 octet-counted frame: the message's length in bytes, a space, the message. */
export function octetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

export interface SyslogTransport {
  /** Resolves once the messages are handed to the network (TCP: written; UDP: sent). */
  send(messages: string[]): Promise<void>;
  close(): void;
}

/** TCP with octet counting over one kept-open connection, opened again after a failure. */
export class TcpSyslog implements SyslogTransport {
  private socket: Socket | undefined;

  constructor(private readonly host: string, private readonly port: number, private readonly timeoutMs: number) {}

  private open(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port });
      const timer = setTimeout(() => s.destroy(new Error(`connect timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.setKeepAlive(true);
        // A receiver never speaks on this connection; an error or end means it is gone.
        s.on('error', () => s.destroy());
        s.on('end', () => s.destroy());
        this.socket = s;
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  async send(messages: string[]): Promise<void> {
    const s = await this.open();
    const data = Buffer.concat(messages.map(octetCounted));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`write timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      s.write(data, (err) => {
        clearTimeout(timer);
        if (err) {
          s.destroy();
          reject(err);
        } else resolve();
      });
    });
  }

  close(): void {
    this.socket?.end();
    this.socket = undefined;
  }
}

/** UDP: one datagram per message, cut to `maxBytes` (on a UTF-8 character boundary) when longer. */
export class UdpSyslog implements SyslogTransport {
  private readonly socket;

  constructor(private readonly host: string, private readonly port: number, private readonly maxBytes: number) {
    this.socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    this.socket.on('error', () => { /* reported by the send callback */ });
  }

  async send(messages: string[]): Promise<void> {
    for (const m of messages) {
      let data = Buffer.from(m, 'utf8');
      if (data.length > this.maxBytes) {
        let end = this.maxBytes;
        while (end > 0 && (data[end]! & 0xc0) === 0x80) end--; // not inside a UTF-8 sequence
        data = data.subarray(0, end);
      }
      await new Promise<void>((resolve, reject) => this.socket.send(data, this.port, this.host, (err) => (err ? reject(err) : resolve())));
    }
  }

  close(): void {
    this.socket.close();
  }
}
