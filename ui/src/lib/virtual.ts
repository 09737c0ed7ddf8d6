// Which rows of a long list to render: only those in view plus a margin, so the live tail
// stays smooth with thousands of rows.

export type Window = { start: number; end: number; padTop: number; padBottom: number };

export function visibleWindow(total: number, rowHeight: number, scrollTop: number, viewport: number, overscan = 10): Window {
  if (total === 0 || rowHeight <= 0) return { start: 0, end: 0, padTop: 0, padBottom: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const start = Math.max(0, first - overscan);
  const end = Math.min(total, first + Math.ceil(viewport / rowHeight) + overscan);
  return { start, end, padTop: start * rowHeight, padBottom: (total - end) * rowHeight };
}
