/**
 * What the page learns from its link: the token (from the fragment, never sent to a server),
 * and the look the embedding platform asked for (`primary` colour, `theme` light/dark/auto).
 * The token is moved to sessionStorage and wiped from the address bar at once, so it is not
 * left in the history, a bookmark or a screenshot; a reload of the tab keeps working.
 */
export interface Boot {
  token: string | undefined;
  /** Why there is no usable token, when there is none. */
  problem?: string;
}

const TOKEN_KEY = 'hookrelay.portal.token';
/** Why the API refused the tab's link, kept so that a reload still says why (the token is gone). */
const REFUSED_KEY = 'hookrelay.portal.refused';
const LOOK_KEY = 'hookrelay.portal.look';
const COLOUR = /^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;

function storage(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined; // a sandboxed frame may have none
  }
}

export function boot(): Boot {
  const fragment = new URLSearchParams(location.hash.replace(/^#\/?/, '').includes('=') ? location.hash.slice(1) : '');
  const query = new URLSearchParams(location.search);
  const store = storage();
  let token = fragment.get('token') ?? undefined;
  if (token) {
    store?.setItem(TOKEN_KEY, token);
    store?.removeItem(REFUSED_KEY);
    history.replaceState(null, '', `${location.pathname}${location.search}#/`);
  } else {
    token = store?.getItem(TOKEN_KEY) ?? undefined;
  }

  const saved = JSON.parse(store?.getItem(LOOK_KEY) ?? '{}') as { primary?: string; theme?: string };
  const primary = fragment.get('primary') ?? query.get('primary') ?? saved.primary;
  const theme = fragment.get('theme') ?? query.get('theme') ?? saved.theme;
  store?.setItem(LOOK_KEY, JSON.stringify({ primary, theme }));
  const root = document.documentElement;
  if (primary && COLOUR.test(primary)) {
    // CSSOM, not an inline style attribute: allowed under style-src 'self'.
    root.style.setProperty('--primary', primary.startsWith('#') ? primary : `#${primary}`);
  }
  if (theme === 'dark' || theme === 'light') root.dataset.theme = theme;

  if (!token || !token.startsWith('hrp_')) {
    return {
      token: undefined,
      problem:
        store?.getItem(REFUSED_KEY) ??
        'This page opens from a portal link. Ask the service that sent you here for one.',
    };
  }
  return { token };
}

/** Drops the tab's token once the API refused it, keeping why. */
export function forgetToken(why: string): void {
  storage()?.removeItem(TOKEN_KEY);
  storage()?.setItem(REFUSED_KEY, why);
}
