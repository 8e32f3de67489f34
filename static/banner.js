/* cookieguard: enhances the server-rendered banner, which works without it. CSP-safe: no
 * inline code or style writes. A first paint needs only this file; banner-more.js (choices,
 * scripts to put back, embeds, the dialog) is loaded when first needed. */
(() => {
  'use strict';
  const script = document.currentScript;
  const tag = script?.dataset || {};
  const prefix = tag.cookieguardPrefix || '/_cookieguard';
  const core = {
    tag,
    prefix,
    root: location.origin + prefix, // absolute: a restored <base href> must not move it
    version: new URL(script?.src || location).search,
    ran: new Set(), // categories running on this page
    state: null,    // the consent the page was rendered for, then each answer
  };
  const preferences = core.root + '/preferences?next=' + encodeURIComponent(location.pathname + location.search);
  let native = false; // true: let the form submit itself
  let more = null;    // Promise of banner-more.js, set up

  // A <script> with our nonce, not import(): a nonce-only policy lets it run.
  const load = () => (more = more || new Promise((done, fail) => {
    const element = document.createElement('script');
    element.src = core.root + '/banner-more.js' + core.version;
    element.nonce = script?.nonce || '';
    element.core = core;
    element.onload = () => (element.api ? done(element.api) : fail(Error('cookieguard')));
    element.onerror = fail;
    document.head.append(element);
  }).catch((error) => { more = null; throw error; }));
  const on = (s) => Object.keys(s.categories).filter((name) => s.categories[name]);

  // Tag managers and Meta Pixel; consent-mode.js (Google, UET) listens for cookieguard:change.
  core.signal = () => {
    (window.dataLayer = window.dataLayer || []).push({
      event: 'cookieguard_consent',
      cookieguard_categories: on(core.state),
    });
    window.fbq?.('consent', core.state.consent_mode?.ad_storage === 'granted' ? 'grant' : 'revoke');
  };

  // Anything to put back, or storage keys to check? Only banner-more.js knows how.
  core.activate = () => {
    const allowed = (names) => names.split(' ').every((name) => core.state.categories[name]);
    let stored = 0;
    try { stored = localStorage.length + sessionStorage.length; } catch { /* disabled */ }
    if (stored && (core.state.storage || tag.cookieguardStorage) ||
        document.querySelector('[data-cookieguard-embed]') ||
        [...document.querySelectorAll('[data-cookieguard]')].some((e) => allowed(e.dataset.cookieguard))) {
      return load().then((m) => m.activate(), () => {});
    }
  };

  document.addEventListener('click', (event) => {
    const element = event.target.closest('[data-cookieguard-action], a[href]');
    if (!element) return;
    const action = element.dataset.cookieguardAction;
    if (action === 'load_once' || action === 'allow') {
      event.preventDefault(); // "allow" submits a form without us
      load().then((m) => m.embed(element, action)).catch(() => location.assign(preferences));
      return;
    }
    // Our buttons and links, and any link to the preferences page, open the dialog.
    const opens = action
      ? action === 'open' || action === 'customize'
      : element.origin === location.origin && element.pathname === prefix + '/preferences';
    if (!opens || event.button || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    // No dialog? The preferences page then.
    load().then((m) => m.open(element)).catch(() => location.assign(element.href || preferences));
  });

  document.addEventListener('submit', (event) => {
    const form = event.target;
    const button = event.submitter;
    if (native || form.method !== 'post' || button?.name !== 'action') return;
    if (!form.closest('#cookie-consent, #cookie-preferences-dialog')) return;
    event.preventDefault();
    load().then((m) => m.submit(form, button)).catch(() => {
      native = true;  // fall back to a plain form post
      form.requestSubmit(button);
    });
  });

  // A category's switch turns its vendors' switches with it.
  document.addEventListener('change', ({target}) => {
    if (target.name === 'category' && target.form) load().then((m) => m.cascade(target), () => {});
  });

  if (!navigator.cookieEnabled) {
    for (const note of document.querySelectorAll('[data-cookieguard-note]')) note.hidden = false;
  }

  // The tag says which consent the page was rendered for; hand-placed tags ask /consent.
  const granted = tag.cookieguardGranted;
  const flags = (names, on) => (names || '').split(' ').filter(Boolean).map((n) => [n, on]);
  const initial = granted === undefined ? fetch(core.root + '/consent').then((r) => r.json()) : Promise.resolve({
    decided: 'cookieguardDecided' in tag,
    categories: Object.fromEntries([...flags(tag.cookieguardRefused, false), ...flags(granted, true)]),
    vendors: JSON.parse(tag.cookieguardVendors || '{}'),
    consent_mode: {ad_storage: 'cookieguardAds' in tag ? 'granted' : 'denied'},
  });
  const ready = initial.then((first) => {
    if (core.state) return;
    core.state = first;
    core.signal();
    return core.activate();
  }).then(() => core.state, () => core.state);

  window.cookieguard = {
    get consent() { return core.state; },
    ready,
    open: () => load().then((m) => m.open(null)),
    // update('accept_all' | 'reject_all'), update(['analytics']) or update({analytics: true})
    update: (choice) => load().then((m) => m.update(choice)),
  };
})();
