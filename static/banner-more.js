/* cookieguard: what banner.js loads when first needed (a choice, a gated element to put
 * back, an embed, the preferences dialog). Plain script, no build step; banner.js hands it
 * its state on the <script> element and takes the functions back the same way. */
(() => {
  'use strict';
  const script = document.currentScript;
  const core = script.core; // from banner.js: tag, prefix, root, version, ran, state, signal
  let dialog = null;    // Promise of the <dialog>, fetched once
  let opener = null;    // gets focus back when the dialog closes
  let last = null;      // Promise: the last external script activated has run
  let queue = Promise.resolve();

  // data-cookieguard-<name>: a URL attribute (src, data-src, style...) renamed so it loads
  // nothing, unless <name> is one of ours.
  const renamed = /^data-cookieguard-(?!(type|embed|provider|width|height|action|category|original|note|prefix|csp|reload|gpc|granted|denied|decided|storage|ads|wait|regions|redact|passthrough|vendor|vendors|dnss|parties|rule|url|refused)$)/;
  // Keep in step with cookieguard.html._inject.STYLE_STOP (a test reads both).
  const STOP = 'cookieguard-gated{}';

  const here = () => encodeURIComponent(location.pathname + location.search);


  async function consent(body) {
    const response = await fetch(core.root + '/consent', body && {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error('cookieguard: consent ' + response.status);
    return response.json();
  }

  const on = (s) => (s ? Object.keys(s.categories).filter((name) => s.categories[name]) : []);

  function apply(next) {
    const before = on(core.state);
    const previous = core.state;
    core.state = next;
    core.signal();
    document.dispatchEvent(new CustomEvent('cookieguard:change', {detail: next}));
    // Only a reload stops the running scripts of a revoked category; under an enforced
    // consent-aware CSP, newly granted hosts need the next page's policy.
    const {cookieguardReload: reload, cookieguardCsp: csp} = core.tag;
    const revoked = reload && before.some((n) => !next.categories[n] && core.ran.has(n));
    const added = csp === 'enforce' && on(next).some((n) => !before.includes(n));
    // Scripts and resources are gated by category in the page: a new choice per vendor
    // needs the server's next page (embeds follow it in place).
    const vendors = JSON.stringify(next.vendors || {}) !== JSON.stringify(previous?.vendors || {})
      && document.querySelector('[data-cookieguard]:not([data-cookieguard-embed] *)');
    if (revoked || added || vendors) location.reload();
    else activate();
  }

  async function choose(body) {
    const next = await consent(body);
    const banner = document.getElementById('cookie-consent');
    apply(next);
    if (banner) banner.hidden = true;
    // The cookie is HttpOnly: ask whether the browser kept it.
    consent().then((now) => {
      if (now.decided || !banner) return;
      // Cookies blocked: the choice holds for this page only; say so once.
      banner.classList.add('cg-done');
      banner.querySelector('form').hidden = true;
      banner.hidden = false;
      for (const note of document.querySelectorAll('[data-cookieguard-note]')) note.hidden = false;
    }, () => {});
    return next;
  }

  async function submit(form, button) {
    const categories = [...form.querySelectorAll('input[name="category"]:checked')];
    const vendors = {};
    for (const box of form.querySelectorAll('input[name="vendor"]')) vendors[box.value] = box.checked;
    await choose({
      action: button.value,
      categories: categories.map((box) => box.value),
      vendors,
      source: form.elements.source?.value || 'banner',
    });
    const element = form.closest('dialog');
    if (element?.open) element.close();
  }

  function update(choice) {
    if (typeof choice === 'string') return choose({action: choice, source: 'api'});
    const names = Array.isArray(choice) ? choice : Object.keys(choice).filter((k) => choice[k]);
    return choose({action: 'save', categories: names, vendors: core.state?.vendors, source: 'api'});
  }

  // Storage keys of refused categories (category -> regexp: a choice's answer carries them,
  // else {prefix}/storage.json, which the browser keeps).
  async function forget() {
    const version = core.tag.cookieguardStorage;
    const rules = core.state.storage ||
      (version && await (await fetch(core.root + '/storage.json?v=' + version)).json());
    for (const [name, pattern] of Object.entries(rules || {})) {
      if (core.state.categories[name]) continue;
      const regexp = RegExp(pattern);
      try {
        for (const store of [localStorage, sessionStorage]) {
          for (const key of Object.keys(store)) if (regexp.test(key)) store.removeItem(key);
        }
      } catch { /* storage disabled */ }
    }
  }

  // "analytics marketing": all must be granted. What activates is noted as running here.
  function granted(names) {
    const all = names.split(' ');
    if (!all.every((name) => core.state.categories[name])) return false;
    for (const name of all) core.ran.add(name);
    return true;
  }

  // A choice per vendor wins over its category (state.vendors: name -> allowed).
  function chosen(embed) {
    const choice = core.state.vendors?.[embed.dataset.cookieguardProvider];
    if (choice === undefined) return granted(embed.dataset.cookieguardEmbed);
    if (choice) for (const name of embed.dataset.cookieguardEmbed.split(' ')) core.ran.add(name);
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
    // Its own type back: a module, an import map, speculation rules (the gate's
    // data-cookieguard-type); without one it is a classic script.
    if (old.dataset.cookieguardType) script.type = old.dataset.cookieguardType;
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
      element.setAttribute(name.slice(17).replace(/^url-/, '').replace('xlink:', ''), value);
    }
    if (element !== gated) gated.replaceWith(element);
    if (element.localName === 'source') element.parentElement.load?.();
    if (element.localName === 'style') {
      // The rule the gate wrote first (it stops Chromium's preload scanner at the @import
      // rules) goes, then the type (text/plain) that kept the sheet inert.
      const css = element.textContent;
      if (css.startsWith(STOP)) element.textContent = css.slice(STOP.length);
      element.removeAttribute('type');
    }
  }

  // Click-to-load: the placeholder gives way to the original in its <template>.
  function swap(embed) {
    for (const name of embed.dataset.cookieguardEmbed.split(' ')) core.ran.add(name);
    const original = embed.querySelector('template').content;
    const first = original.firstElementChild;
    embed.replaceWith(original);
    return first;
  }

  function activate() {
    const forgotten = forget().catch(() => {});
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
    return forgotten;
  }

  // The dialog's styles come with it: a <link> (CSP-safe), awaited before it is shown.
  function styles() {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = core.root + '/banner-more.css' + core.version;
    link.nonce = document.querySelector('link[href*="/banner.css"]')?.nonce || ''; // the app's
    const loaded = new Promise((done) => {
      link.addEventListener('load', done);
      link.addEventListener('error', done);
    });
    document.head.append(link);
    return loaded;
  }

  async function load() {
    const [response] = await Promise.all([
      fetch(core.root + '/dialog?next=' + here()),
      document.querySelector('link[href*="/banner-more.css"]') || styles(),
    ]);
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
    for (const box of element.querySelectorAll('input[name="category"]')) {
      box.checked = Boolean(core.state?.categories[box.value]);
    }
    for (const box of element.querySelectorAll('input[name="vendor"]')) {
      const choice = core.state?.vendors?.[box.value];
      box.checked = choice ?? Boolean(core.state?.categories[box.dataset.cookieguardCategory]);
    }
    if (!element.open) element.showModal();
    element.querySelector('.cg-switch:enabled, button').focus();
  }

  // "Load once" swaps this embed only; "Always allow" grants its category, keeping the others.
  async function embed(button, action) {
    const placeholder = button.closest('[data-cookieguard-embed]');
    if (action === 'load_once') return swap(placeholder)?.focus();
    const frame = placeholder.querySelector('template').content.firstElementChild;
    const categories = [...on(core.state), button.dataset.cookieguardCategory];
    const vendors = {...core.state?.vendors, [placeholder.dataset.cookieguardProvider]: true};
    await choose({action: 'save', categories, vendors, source: 'banner'});
    if (frame?.isConnected) frame.focus();
  }

  // A category's switch turns its vendors' switches with it; each can then be changed alone.
  function cascade(box) {
    for (const vendor of box.form.querySelectorAll('input[name="vendor"]')) {
      if (vendor.dataset.cookieguardCategory === box.value) vendor.checked = box.checked;
    }
  }

  script.api = {activate, open, embed, submit, update, cascade};
})();
