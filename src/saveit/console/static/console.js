/* SaveIt console: the little script every console page loads (no inline script
 * anywhere, as the Content-Security-Policy demands).
 *
 * - htmx requests carry the page's CSRF token (from <meta name="csrf-token">)
 *   in the X-CSRF-Token header; plain forms carry it in a hidden field.
 * - After htmx swaps a fragment in, focus moves to the element marked
 *   [data-focus] inside it (a result or an error), so keyboard and screen-reader
 *   users hear what happened instead of losing their place.
 * - A page can listen for "saveit:live" events on document (see the guide for
 *   pages in the README) — nothing here depends on it.
 */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) event.detail.headers["X-CSRF-Token"] = token;
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    var scope = target && target.isConnected ? target : document;
    var focus = scope.querySelector("[data-focus]") || document.querySelector("[data-focus]");
    if (focus && typeof focus.focus === "function") focus.focus();
  });

  // Plain forms with data-confirm ask before submitting (htmx forms use hx-confirm).
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || form.hasAttribute("hx-post")) return;
      var question = form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) event.preventDefault();
    },
    true
  );
})();
