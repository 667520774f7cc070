import { html, type Html } from '../html.ts';

const TONES: Record<string, string> = {
  High: 'bad', Medium: 'warn', Low: 'info', Informational: 'muted',
  Active: 'bad', InProgress: 'warn', Resolved: 'ok', Dismissed: 'muted',
  Connected: 'ok', Disconnected: 'warn', Expired: 'bad', Error: 'bad',
  Healthy: 'ok', Unhealthy: 'bad', pass: 'ok', fail: 'bad', 'not-run': 'muted', 'not-checked': 'warn',
  strong: 'ok', probable: 'warn', single: 'muted', Succeeded: 'ok', Failed: 'bad', Creating: 'info', Deleting: 'warn', Disabled: 'muted',
  On: 'ok', Off: 'muted',
};

/** A small labelled badge; its colour follows the value (severity, status, Arc status, cell result). */
export function badge(value: string | null | undefined, cls = ''): Html {
  if (value === null || value === undefined || value === '') return html`<span class="muted">—</span>`;
  return html`<span class="badge tone-${TONES[value] ?? 'muted'} ${cls}">${value}</span>`;
}

export const severityBadge = (s: string | undefined) => badge(s, 'sev');
export const statusBadge = (s: string | undefined) => badge(s, 'status');
