// What the dashboard says about the gateway's state. "Running" needs both signs of life: the
// status poll answering and the live feed connected. Whichever drops first shows at once, so
// a stopped proxy (the tray's Stop, a killed `switchboard serve`) never keeps a stale badge.
import { ApiError } from './api';
import type { Readiness } from './api.gen';

/** The last status poll: answered, not answering, answering 401, or another failure. */
export type Poll = 'unknown' | 'ok' | 'unreachable' | 'unauthorized' | 'error';

export type RunState = {
  state: 'checking' | 'running' | 'degraded' | 'disconnected' | 'stopped' | 'logged-out' | 'failing';
  label: string;
  tone: 'ok' | 'warn' | 'err';
  /** A sentence for anything but running. */
  words: string;
};

export function pollOutcome(error: unknown): Poll {
  if (error instanceof ApiError) {
    if (error.code === 'unreachable') return 'unreachable';
    if (error.status === 401) return 'unauthorized';
  }
  return 'error';
}

/** Why readiness says not ready, in words (the request log and the spend ledger are what it checks). */
export function notReadyReasons(readiness: Readiness | null | undefined): string[] {
  if (!readiness || readiness.ready) return [];
  const reasons = [];
  if (!readiness.database.ok) reasons.push(`the request log is not being written (${readiness.database.error ?? 'no reason given'})`);
  if (!readiness.spend_ledger.ok) {
    const waiting = readiness.spend_ledger.pending ? `; ${readiness.spend_ledger.pending} spend rows wait in memory` : '';
    reasons.push(`the spend ledger cannot write (${readiness.spend_ledger.error ?? 'no reason given'})${waiting}`);
  }
  return reasons;
}

export function runState(poll: Poll, connected: boolean, ready: boolean | null, reasons: string[] = []): RunState {
  switch (poll) {
    case 'unreachable':
      return {
        state: 'stopped',
        label: 'Stopped',
        tone: 'err',
        words: 'Switchboard is not answering: the proxy was stopped (the tray’s Start proxy turns it back on) or `switchboard serve` is not running. This page reconnects by itself.',
      };
    case 'unauthorized':
      return {
        state: 'logged-out',
        label: 'Logged out',
        tone: 'err',
        words: 'The gateway answers but this session is gone (a restart logs everyone out). Run `switchboard dashboard` for a new login link.',
      };
    case 'error':
      return { state: 'failing', label: 'Not answering properly', tone: 'err', words: 'The gateway answered the status check with an error; see the message above.' };
    case 'unknown':
      return { state: 'checking', label: 'Checking…', tone: 'warn', words: 'Checking whether the gateway is running…' };
    case 'ok':
      if (!connected) {
        return { state: 'disconnected', label: 'Disconnected', tone: 'warn', words: 'The live feed dropped; reconnecting. Figures on this page may be out of date.' };
      }
      if (ready === false) {
        const why = reasons.length ? `${reasons.join('; ')}. Requests are still answered.` : 'see the problems below.';
        return { state: 'degraded', label: 'Degraded', tone: 'err', words: `The gateway is running but not ready: ${why}` };
      }
      return { state: 'running', label: 'Running', tone: 'ok', words: '' };
  }
}
