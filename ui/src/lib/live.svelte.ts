// One EventSource for the whole UI (never a poll per row): new request rows, config reloads and
// rejections, breaker changes, budget alerts. The browser reconnects by itself and resumes
// with Last-Event-ID, so no row is missed across a short drop.
import type { RequestRow, GatewayEvent } from './api.gen';
import { apiUrl } from './api';

type RowListener = (row: RequestRow) => void;
type EventListener = (event: GatewayEvent) => void;

class Live {
  connected = $state(false);
  lastBeat = $state(0);
  notices = $state<{ id: number; text: string; tone: 'info' | 'warn' | 'err' }[]>([]);
  private source: EventSource | null = null;
  private rowListeners = new Set<RowListener>();
  private eventListeners = new Set<EventListener>();
  private noticeId = 0;

  start() {
    if (this.source) return;
    const source = new EventSource(apiUrl('/admin/events'), { withCredentials: true });
    this.source = source;
    source.onopen = () => (this.connected = true);
    source.onerror = () => (this.connected = false);
    source.addEventListener('hello', () => (this.connected = true));
    source.addEventListener('heartbeat', () => {
      this.connected = true;
      this.lastBeat = Date.now();
    });
    source.addEventListener('request', (e) => {
      const row = JSON.parse((e as MessageEvent).data) as RequestRow;
      for (const l of this.rowListeners) l(row);
    });
    for (const kind of ['config_reloaded', 'config_rejected', 'breaker_opened', 'breaker_closed', 'target_misconfigured', 'budget_alert', 'budget_spent']) {
      source.addEventListener(kind, (e) => {
        const event = JSON.parse((e as MessageEvent).data) as GatewayEvent;
        for (const l of this.eventListeners) l(event);
        this.notify(event);
      });
    }
  }

  stop() {
    this.source?.close();
    this.source = null;
    this.connected = false;
  }

  onRow(listener: RowListener): () => void {
    this.rowListeners.add(listener);
    return () => this.rowListeners.delete(listener);
  }

  onEvent(listener: EventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  dismiss(id: number) {
    this.notices = this.notices.filter((n) => n.id !== id);
  }

  private notify(event: GatewayEvent) {
    const [text, tone] = describeEvent(event);
    const id = ++this.noticeId;
    this.notices = [...this.notices.slice(-4), { id, text, tone }];
    if (tone === 'info') setTimeout(() => this.dismiss(id), 6000);
  }
}

export function describeEvent(event: GatewayEvent): [string, 'info' | 'warn' | 'err'] {
  switch (event.type) {
    case 'config_reloaded':
      return [`Config reloaded (revision ${event.revision.slice(0, 8)}).`, 'info'];
    case 'config_rejected':
      return [`A config change was rejected; the previous config keeps serving: ${event.message}`, 'err'];
    case 'breaker_opened':
      return [`${event.target} is skipped for ${Math.round(event.retry_in_ms / 1000)} s: ${event.reason}`, 'warn'];
    case 'breaker_closed':
      return [`${event.target} is healthy again.`, 'info'];
    case 'target_misconfigured':
      return [`${event.target} is misconfigured and skipped until fixed: ${event.reason}`, 'err'];
    case 'budget_alert':
      return [`Budget ${event.budget} passed ${Math.round(event.alert_at * 100)}%: $${event.spent_usd.toFixed(2)} of $${event.limit_usd.toFixed(2)} this ${event.period}.`, 'warn'];
    case 'budget_spent':
      return [`Budget ${event.budget} is spent ($${event.limit_usd.toFixed(2)} this ${event.period}); resets ${event.resets_at}.`, 'err'];
  }
}

export const live = new Live();
