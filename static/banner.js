/* cookieguard: enhances the server-rendered banner, which works without this file.
 * No dependencies, no build step, no inline code or style writes (CSP-safe). */
(() => {
  'use strict';
  const prefix = document.currentScript?.dataset.cookieguardPrefix || '/_cookieguard';
  const banner = document.getElementById('cookie-consent');
  const here = location.pathname + location.search;
  let state = null;     // what {prefix}/consent last said
  let choices = 0;      // so a slow first read cannot undo a choice
  let native = false;   // true: let the form submit itself
  let dialog = null;    // Promise of the <dialog>, fetched once
  let opener = null;    // gets focus back when the dialog closes

  async function consent(body) {
    const init = body && {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(body),
    };
    const response = await fetch(prefix + '/consent', init);
    if (!response.ok) throw new Error('cookieguard: consent ' + response.status);
    return response.json();
  }

  function granted(categories) {
    return categories.split(/\s+/).every((name) => state.categories[name] === true);
  }

  // <script type="text/plain" data-cookieguard="analytics" src=...> runs once granted;
  // async=false keeps document order.
  function activate() {
    for (const old of document.querySelectorAll('script[type="text/plain"][data-cookieguard]')) {
      if (!granted(old.dataset.cookieguard)) continue;
      const script = document.createElement('script');
      for (const {name, value} of old.attributes) {
        if (name !== 'type') script.setAttribute(name, value);
      }
      script.async = false;
      if (!old.src) script.text = old.text;  // only if the CSP allows inline
      old.replaceWith(script);
    }
  }

  function apply(next, changed) {
    state = next;
    activate();
    if (!changed) return;
    document.dispatchEvent(new CustomEvent('cookieguard:change', {detail: next}));
  }

  function showNote() {
    for (const note of document.querySelectorAll('[data-cookieguard-note]')) note.hidden = false;
  }

  async function choose(body) {
    choices++;
    const next = await consent(body);
    apply(next, true);
    if (banner) banner.hidden = true;
    // The cookie is HttpOnly: ask whether the browser kept it.
    consent().then((now) => {
      if (now.decided || !banner) return;
      // Cookies blocked: the choice holds for this page only; say so once.
      banner.classList.add('cg-done');
      banner.querySelector('form').hidden = true;
      banner.hidden = false;
      showNote();
    }, () => {});
    return next;
  }

  function sync(element) {
    for (const box of element.querySelectorAll('input[name="category"]')) {
      box.checked = Boolean(state && state.categories[box.value]);
    }
  }

  async function load() {
    const response = await fetch(prefix + '/dialog?next=' + encodeURIComponent(here));
    if (!response.ok) throw new Error('cookieguard: dialog ' + response.status);
    const template = document.createElement('template');
    template.innerHTML = await response.text();
    const element = template.content.querySelector('dialog');
    document.body.append(element);
    element.addEventListener('close', () => {
      if (opener && opener.isConnected && !opener.closest('[hidden]')) opener.focus();
    });
    return element;
  }

  async function open(from) {
    opener = from || document.activeElement;
    dialog = dialog || load().catch((error) => { dialog = null; throw error; });
    const element = await dialog;
    sync(element);
    if (!element.open) element.showModal();
    element.querySelector('.cg-switch:enabled, button').focus();
  }

  function opensPreferences(element) {
    const action = element.dataset.cookieguardAction;
    if (action) return action === 'open' || action === 'customize';
    return element.origin === location.origin && element.pathname === prefix + '/preferences';
  }

  document.addEventListener('click', (event) => {
    const element = event.target.closest('[data-cookieguard-action], a[href]');
    if (!element || !opensPreferences(element)) return;
    if (event.button || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    // No dialog? The preferences page then.
    open(element).catch(() => location.assign(
      element.href || prefix + '/preferences?next=' + encodeURIComponent(here)));
  });

  document.addEventListener('submit', (event) => {
    const form = event.target;
    const button = event.submitter;
    if (native || form.method !== 'post' || !button || button.name !== 'action') return;
    if (!form.closest('#cookie-consent, #cookie-preferences-dialog')) return;
    event.preventDefault();
    const categories = [...form.querySelectorAll('input[name="category"]:checked')];
    choose({
      action: button.value,
      categories: categories.map((box) => box.value),
      source: form.elements.source?.value || 'banner',
    }).then(() => {
      const element = form.closest('dialog');
      if (element?.open) element.close();
    }, () => {
      native = true;  // fall back to a plain form post
      form.requestSubmit(button);
    });
  });

  if (banner && !navigator.cookieEnabled) showNote();

  const ready = consent().then(
    (initial) => {
      if (!choices) apply(initial, false);
      return state;
    },
    () => state,
  );

  window.cookieguard = {
    get consent() { return state; },
    ready,
    open: () => open(null),
    // update('accept_all' | 'reject_all'), update(['analytics']) or update({analytics: true})
    update(choice) {
      if (typeof choice === 'string') return choose({action: choice, source: 'api'});
      const names = Array.isArray(choice) ? choice : Object.keys(choice).filter((k) => choice[k]);
      return choose({action: 'save', categories: names, source: 'api'});
    },
  };
})();
