/* cookieguard: Google Consent Mode v2 and Microsoft UET consent, set before any other script.
 * The middleware writes the visitor's current choice into this tag's data attributes, so the
 * default is right from the first paint, for returning visitors too; on a choice, banner.js
 * fires cookieguard:change and this sends the update, without a reload.
 * https://developers.google.com/tag-platform/security/guides/consent
 * https://help.ads.microsoft.com/#apex/ads/en/60119/1 */
(() => {
  'use strict';
  const data = document.currentScript.dataset;
  const list = (value) => (value ? value.split(' ') : []);
  window.dataLayer = window.dataLayer || [];
  window.uetq = window.uetq || [];
  // gtag.js reads Arguments objects from the dataLayer, as Google's own snippet pushes them.
  window.gtag = window.gtag || function gtag() { window.dataLayer.push(arguments); };

  const types = {};
  for (const type of list(data.cookieguardGranted)) types[type] = 'granted';
  for (const type of list(data.cookieguardDenied)) types[type] = 'denied';
  const defaults = {...types};
  // Undecided visitors: tags wait this long for the update, and the denied default may be
  // limited to the regions the site names (elsewhere Google's own default applies).
  if (data.cookieguardWait) defaults.wait_for_update = Number(data.cookieguardWait);
  if (data.cookieguardRegions) defaults.region = list(data.cookieguardRegions);
  window.gtag('consent', 'default', defaults);
  if (data.cookieguardRedact) window.gtag('set', 'ads_data_redaction', true);
  if (data.cookieguardPassthrough) window.gtag('set', 'url_passthrough', true);
  window.uetq.push('consent', 'default', {ad_storage: types.ad_storage});

  document.addEventListener('cookieguard:change', (event) => {
    const update = event.detail.consent_mode;
    window.gtag('consent', 'update', update);
    window.uetq.push('consent', 'update', {ad_storage: update.ad_storage});
  });
})();
