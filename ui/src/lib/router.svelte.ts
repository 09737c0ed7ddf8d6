// Hash routing (`#/logs?alias=x`): works at /ui/, under any prefix and in the tray window,
// with nothing for the server to rewrite.

import { parseHash, type Route } from './route';

class Router {
  route = $state<Route>(parseHash(location.hash));

  constructor() {
    addEventListener('hashchange', () => {
      this.route = parseHash(location.hash);
    });
  }

  go(path: string) {
    location.hash = '#/' + path.replace(/^[#/]+/, '');
  }

  /** Changes the query of the current page without a new history entry. */
  replaceSearch(search: string) {
    const { page, param } = this.route;
    const path = '#/' + page + (param ? '/' + encodeURIComponent(param) : '') + (search ? '?' + search : '');
    history.replaceState(null, '', path);
    this.route = parseHash(path);
  }
}

export const router = new Router();
