// Light, dark or the system's choice, remembered in this browser.
export type Theme = 'system' | 'light' | 'dark';

class ThemeState {
  theme = $state<Theme>((localStorage.getItem('sb-theme') as Theme | null) ?? 'system');

  apply() {
    document.documentElement.dataset.theme = this.theme;
  }

  set(theme: Theme) {
    this.theme = theme;
    localStorage.setItem('sb-theme', theme);
    this.apply();
  }

  cycle() {
    this.set(this.theme === 'system' ? 'light' : this.theme === 'light' ? 'dark' : 'system');
  }
}

export const theme = new ThemeState();
