import { describe, expect, it } from 'vitest';
import { latest } from './latest';

describe('only the latest answer counts', () => {
  it('drops an answer that arrives after a later request’s answer', () => {
    const order = latest();
    const slowLoad = order.start();
    const check = order.start();
    expect(order.fresh(check)).toBe(true); // the refused check: Stopped
    expect(order.fresh(slowLoad)).toBe(false); // the load the gateway finished while stopping
  });
  it('applies answers that arrive in order, and a later one after an earlier', () => {
    const order = latest();
    const a = order.start();
    expect(order.fresh(a)).toBe(true);
    const b = order.start();
    const c = order.start();
    expect(order.fresh(b)).toBe(true);
    expect(order.fresh(c)).toBe(true);
    expect(order.fresh(c)).toBe(true); // the same answer applied again is still the latest
    expect(order.fresh(b)).toBe(false);
  });
});
