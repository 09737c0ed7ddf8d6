import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { notReadyReasons, pollOutcome, runState } from './running';
import type { Readiness } from './api.gen';

describe('the running badge follows the gateway', () => {
  it('says running only with the poll answering and the feed connected', () => {
    expect(runState('ok', true, true).state).toBe('running');
    expect(runState('ok', false, true).state).toBe('disconnected');
    expect(runState('ok', true, false).state).toBe('degraded');
  });
  it('says stopped when the poll gets no answer, whatever the feed last said', () => {
    expect(runState('unreachable', true, true)).toMatchObject({ state: 'stopped', label: 'Stopped', tone: 'err' });
    expect(runState('unreachable', false, null).words).toMatch(/not answering/);
  });
  it('tells a lost session from a stopped gateway', () => {
    expect(runState('unauthorized', false, null).words).toMatch(/switchboard dashboard/);
    expect(runState('error', true, true).state).toBe('failing');
    expect(runState('unknown', false, null).state).toBe('checking');
  });
  it('says why it is degraded: the log or the ledger failing, with their reasons', () => {
    const readiness = (database: { ok: boolean; error: string | null }, ledger: { ok: boolean; error: string | null; pending: number }) =>
      ({ ready: database.ok && ledger.ok, database, spend_ledger: ledger }) as unknown as Readiness;
    const full = 'write failed: database or disk is full';
    const both = notReadyReasons(readiness({ ok: false, error: full }, { ok: false, error: full, pending: 3 }));
    expect(both).toEqual([`the request log is not being written (${full})`, `the spend ledger cannot write (${full}); 3 spend rows wait in memory`]);
    const state = runState('ok', true, false, both);
    expect(state).toMatchObject({ state: 'degraded', label: 'Degraded', tone: 'err' });
    expect(state.words).toContain('database or disk is full');
    expect(notReadyReasons(readiness({ ok: true, error: null }, { ok: true, error: null, pending: 0 }))).toEqual([]);
    expect(notReadyReasons(null)).toEqual([]);
  });
  it('classifies a failed poll', () => {
    expect(pollOutcome(new ApiError('x', 0, 'unreachable'))).toBe('unreachable');
    expect(pollOutcome(new ApiError('x', 401, 'unauthorized'))).toBe('unauthorized');
    expect(pollOutcome(new ApiError('x', 500, 'internal'))).toBe('error');
    expect(pollOutcome(new TypeError('boom'))).toBe('error');
  });
});

describe('times in the log', () => {
  it('shows the clock for today and adds the date before', async () => {
    const { time } = await import('./format');
    const now = new Date(2026, 11, 1, 15, 0, 0).getTime();
    expect(time(new Date(2026, 11, 1, 9, 5, 7).getTime(), now)).toMatch(/09.05.07/);
    const yesterday = time(new Date(2026, 10, 30, 23, 59, 1).getTime(), now);
    expect(yesterday).toMatch(/23.59.01/);
    expect(yesterday.length).toBeGreaterThan(8);
  });
});
