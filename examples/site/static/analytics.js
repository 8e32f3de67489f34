// Stand-in for a third-party analytics snippet: one cookie and one beacon per page view.
// The pages include it as <script type="text/plain" data-cookieguard="analytics" src=...>,
// so it only runs once the visitor allows analytics.
(() => {
  'use strict';
  const id = 'GA1.2.' + Math.floor(Math.random() * 1e9) + '.' + Math.floor(Date.now() / 1000);
  document.cookie = '_ga_js=' + id + '; path=/; max-age=63072000; SameSite=Lax';
  const body = JSON.stringify({page: location.pathname});
  if (!(navigator.sendBeacon && navigator.sendBeacon('/collect', body))) {
    fetch('/collect', {method: 'POST', body, keepalive: true}).catch(() => {});
  }
})();
