import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { pollOutcome, runState } from './running';

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
  it('classifies a failed poll', () => {
    expect(pollOutcome(new ApiError('x', 0, 'unreachable'))).toBe('unreachable');
    expect(pollOutcome(new ApiError('x', 401, 'unauthorized'))).toBe('unauthorized');
    expect(pollOutcome(new ApiError('x', 500, 'internal'))).toBe('error');
    expect(pollOutcome(new TypeError('boom'))).toBe('error');
  });
});
