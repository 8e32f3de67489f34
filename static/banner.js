/* cookieguard: enhances the server-rendered banner, which works without it. CSP-safe:
 * no inline code or style writes. */
(() => {
  'use strict';
  const tag = document.currentScript?.dataset || {};
  const prefix = tag.cookieguardPrefix || '/_cookieguard';
  const root = location.origin + prefix; // absolute: a restored <base href> must not move it
  const banner = document.getElementById('cookie-consent');
  const here = location.pathname + location.search;
  const preferences = root + '/preferences?next=' + encodeURIComponent(here);
  // data-cookieguard-<name>: a URL attribute (src, data-src, style...) renamed so it loads
  // nothing, unless <name> is one of ours.
  const renamed = /^data-cookieguard-(?!(type|embed|provider|width|height|action|category|original|note|prefix|csp|reload|gpc|granted|denied|wait|regions|redact|passthrough|vendor)$)/;
  const ran = new Set(); // categories whose scripts, embeds or resources run on this page
  let state = null;     // what {prefix}/consent last said
  let choices = 0;      // so a slow first read cannot undo a choice
  let native = false;   // true: let the form submit itself
  let dialog = null;    // Promise of the <dialog>, fetched once
  let opener = null;    // gets focus back when the dialog closes
  let last = null;      // Promise: the last external script activated has run
  let queue = Promise.resolve();

  async function get(path, init) {
    const response = await fetch(root + path, init);
    if (!response.ok) throw new Error('cookieguard: ' + path + ' ' + response.status);
    return response;
  }

  async function consent(body) {
    const init = body && {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(body),
    };
    return (await get('/consent', init)).json();
  }

  const on = (s) => (s ? Object.keys(s.categories).filter((name) => s.categories[name]) : []);

  // "analytics marketing": all must be granted. What activates is noted as running here.
  function granted(names) {
    const all = names.split(' ');
    if (!all.every((name) => state.categories[name])) return false;
    for (const name of all) ran.add(name);
    return true;
  }

  // A choice per vendor wins over its category (state.vendors: name -> allowed).
  function chosen(embed) {
    const choice = state.vendors?.[embed.dataset.cookieguardProvider];
    if (choice === undefined) return granted(embed.dataset.cookieguardEmbed);
    if (choice) for (const name of embed.dataset.cookieguardEmbed.split(' ')) ran.add(name);
    return choice;
  }

  // Document order: external and module scripts inserted with async=false run in insertion
  // order; an inline classic script runs on insertion, so it waits for the external ones.
  // (Inline modules fire no load event: an inline classic script may overtake one.)
  function run(old) {
    const script = document.createElement('script');
    for (const {name, value} of old.attributes) {
      // A renamed URL (an SVG script's href) is the new script's src.
      if (name !== 'type') script.setAttribute(renamed.test(name) ? 'src' : name, value);
    }
    if (old.dataset.cookieguardType === 'module') script.type = 'module';
    // The page's own nonce, from the property (browsers hide the attribute once loaded).
    // Never ours in its place: a script the app's CSP would refuse (one it did not nonce,
    // an injected one) must not run because cookieguard gated and restored it.
    script.nonce = old.nonce;
    script.async = false;
    script.text = old.textContent;
    const inline = !script.src && script.type !== 'module';
    queue = queue.then(() => inline && last).then(() => {
      old.replaceWith(script);
      if (!script.src) return;
      last = new Promise((done) => {
        script.addEventListener('load', done);
        script.addEventListener('error', done);
      });
    });
  }

  // Renamed attributes get their names back (SVG 2 reads href as xlink:href). Their order
  // does not matter: an image picks among src and srcset once both are set. A <link> reads
  // imagesrcset only when inserted: a restored copy is.
  function restore(gated) {
    const element = gated.localName === 'link' ? gated.cloneNode() : gated;
    element.removeAttribute('data-cookieguard');
    for (const {name, value} of [...element.attributes].filter((a) => renamed.test(a.name))) {
      element.removeAttribute(name);
      element.setAttribute(name.slice(17).replace('xlink:', ''), value);
    }
    if (element !== gated) gated.replaceWith(element);
    if (element.localName === 'source') element.parentElement.load?.();
    if (element.localName === 'style') element.removeAttribute('type'); // was text/plain
  }

  // Click-to-load: the placeholder gives way to the original in its <template>.
  function swap(embed) {
    for (const name of embed.dataset.cookieguardEmbed.split(' ')) ran.add(name);
    const original = embed.querySelector('template').content;
    const first = original.firstElementChild;
    embed.replaceWith(original);
    return first;
  }

  function activate() {
    // In document order, so a restored <base href> applies to what follows it.
    const gated = '[data-cookieguard]:not(script), script[type="text/plain"][data-cookieguard]';
    for (const element of document.querySelectorAll(gated)) {
      if (!granted(element.dataset.cookieguard)) continue;
      if (element.localName === 'script') run(element);
      else restore(element);
    }
    for (const embed of document.querySelectorAll('[data-cookieguard-embed]')) {
      if (chosen(embed)) {
        swap(embed);
        continue;
      }
      embed.querySelector('[data-cookieguard-action="load_once"]').hidden = false;
      // The original's size, through the CSSOM (CSP allows it, unlike style="").
      const {cookieguardWidth: width = '', cookieguardHeight: height = ''} = embed.dataset;
      const px = (value) => (/^\d+$/.test(value) ? value + 'px' : value);
      embed.style.width = px(width);
      embed.style.aspectRatio = width + '/' + height;
      if (!embed.style.aspectRatio) embed.style.height = px(height);
    }
  }

  // Storage keys of refused categories (state.storage: category -> regexp).
  function forget() {
    for (const [name, pattern] of Object.entries(state.storage || {})) {
      if (state.categories[name]) continue;
      const regexp = RegExp(pattern);
      try {
        for (const store of [localStorage, sessionStorage]) {
          for (const key of Object.keys(store)) if (regexp.test(key)) store.removeItem(key);
        }
      } catch { /* storage disabled */ }
    }
  }

  // Tag managers and Meta Pixel; consent-mode.js (Google, UET) listens for cookieguard:change.
  function signal() {
    (window.dataLayer = window.dataLayer || []).push({
      event: 'cookieguard_consent',
      cookieguard_categories: on(state),
    });
    window.fbq?.('consent', state.consent_mode?.ad_storage === 'granted' ? 'grant' : 'revoke');
  }

  function apply(next, changed) {
    const before = on(state);
    const previous = state;
    state = next;
    forget();
    signal();
    if (changed) document.dispatchEvent(new CustomEvent('cookieguard:change', {detail: next}));
    // Only a reload stops the running scripts of a revoked category; under an enforced
    // consent-aware CSP, newly granted hosts need the next page's policy.
    const revoked = tag.cookieguardReload && before.some((n) => !next.categories[n] && ran.has(n));
    const added = tag.cookieguardCsp === 'enforce' && on(next).some((n) => !before.includes(n));
    // Scripts and resources are gated by category in the page: a new choice per vendor
    // needs the server's next page (embeds follow it in place).
    const vendors = JSON.stringify(next.vendors || {}) !== JSON.stringify(previous?.vendors || {})
      && document.querySelector('[data-cookieguard]:not([data-cookieguard-embed] *)');
    if (changed && (revoked || added || vendors)) {
      location.reload();
      return;
    }
    activate();
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

  async function load() {
    const template = document.createElement('template');
    template.innerHTML = await (await get('/dialog?next=' + encodeURIComponent(here))).text();
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
    for (const box of element.querySelectorAll('input[name="category"]')) {
      box.checked = Boolean(state?.categories[box.value]);
    }
    for (const box of element.querySelectorAll('input[name="vendor"]')) {
      const choice = state?.vendors?.[box.value];
      box.checked = choice ?? Boolean(state?.categories[box.dataset.cookieguardCategory]);
    }
    if (!element.open) element.showModal();
    element.querySelector('.cg-switch:enabled, button').focus();
  }

  // "Load once" swaps this embed only; "Always allow" (a form without us) grants its category.
  async function embed(button, action) {
    const placeholder = button.closest('[data-cookieguard-embed]');
    if (action === 'load_once') return swap(placeholder)?.focus();
    const frame = placeholder.querySelector('template').content.firstElementChild;
    const categories = [...on(state), button.dataset.cookieguardCategory];
    const vendors = {...state?.vendors, [placeholder.dataset.cookieguardProvider]: true};
    await choose({action: 'save', categories, vendors, source: 'banner'});
    if (frame?.isConnected) frame.focus();
  }

  document.addEventListener('click', (event) => {
    const element = event.target.closest('[data-cookieguard-action], a[href]');
    if (!element) return;
    const action = element.dataset.cookieguardAction;
    if (action === 'load_once' || action === 'allow') {
      event.preventDefault();
      embed(element, action).catch(() => location.assign(preferences));
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
    open(element).catch(() => location.assign(element.href || preferences));
  });

  document.addEventListener('submit', (event) => {
    const form = event.target;
    const button = event.submitter;
    if (native || form.method !== 'post' || !button || button.name !== 'action') return;
    if (!form.closest('#cookie-consent, #cookie-preferences-dialog')) return;
    event.preventDefault();
    const categories = [...form.querySelectorAll('input[name="category"]:checked')];
    const vendors = {};
    for (const box of form.querySelectorAll('input[name="vendor"]')) vendors[box.value] = box.checked;
    choose({
      action: button.value,
      categories: categories.map((box) => box.value),
      vendors,
      source: form.elements.source?.value || 'banner',
    }).then(() => {
      const element = form.closest('dialog');
      if (element?.open) element.close();
    }, () => {
      native = true;  // fall back to a plain form post
      form.requestSubmit(button);
    });
  });

  // A category's switch turns its vendors' switches with it; each can then be changed alone.
  document.addEventListener('change', (event) => {
    const box = event.target;
    if (box.name !== 'category' || !box.form) return;
    for (const vendor of box.form.querySelectorAll('input[name="vendor"]')) {
      if (vendor.dataset.cookieguardCategory === box.value) vendor.checked = box.checked;
    }
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
      return choose({action: 'save', categories: names, vendors: state?.vendors, source: 'api'});
    },
  };
})();
