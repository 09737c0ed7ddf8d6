// Answers can arrive out of order: a stopping gateway finishes its in-flight requests after it
// refuses new ones. A page that shows "the latest state" applies an answer only when no answer
// to a later-started request has been applied already.

export type Latest = {
  /** A ticket for a request about to start. */
  start(): number;
  /** Whether the answer to `ticket`'s request is still news (and, if so, it becomes the latest). */
  fresh(ticket: number): boolean;
};

export function latest(): Latest {
  let started = 0;
  let applied = 0;
  return {
    start: () => ++started,
    fresh(ticket) {
      if (ticket < applied) return false;
      applied = ticket;
      return true;
    },
  };
}
