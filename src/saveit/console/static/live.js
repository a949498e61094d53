/* SaveIt console: the restaurant's live feed, for any page that has an element
 * with data-live-url (the console's WebSocket, /console/r/{slug}/live) and
 * data-live-since (the feed position the page's HTML was read at).
 *
 * Each message is dispatched on document as a "saveit:live" CustomEvent whose
 * detail is the message JSON ({"type": ..., "position": ..., ...}); pages listen
 * for it and redraw what it touches. The socket reconnects by itself (backing
 * off to 5 s) with ?since= the last complete position, so nothing is missed;
 * when the server cannot replay the gap the first message is a "snapshot".
 * The element gets data-state = connecting | open | closed | ended, and its
 * text from data-text-<state>; "saveit:live-state" events say the same.
 */
(function () {
  "use strict";

  var host = document.querySelector("[data-live-url]");
  if (!host || !window.WebSocket) return;
  var path = host.getAttribute("data-live-url");
  var since = host.getAttribute("data-live-since") || "";
  var delay = 250;
  var socket = null;
  var ended = false;
  var FINAL = { 4401: true, 4403: true, 4404: true };

  function state(name) {
    host.setAttribute("data-state", name);
    var text = host.getAttribute("data-text-" + name);
    if (text) host.textContent = text;
    document.dispatchEvent(new CustomEvent("saveit:live-state", { detail: { state: name } }));
  }

  function connect() {
    if (ended) return;
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var url = scheme + "//" + location.host + path + (since !== "" ? "?since=" + encodeURIComponent(since) : "");
    state("connecting");
    socket = new WebSocket(url);
    socket.addEventListener("open", function () {
      delay = 250;
      state("open");
    });
    socket.addEventListener("message", function (event) {
      var doc;
      try {
        doc = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (doc && doc.completes && typeof doc.position === "number") since = String(doc.position);
      if (doc && doc.type === "snapshot" && typeof doc.position === "number") since = String(doc.position);
      document.dispatchEvent(new CustomEvent("saveit:live", { detail: doc }));
    });
    socket.addEventListener("close", function (event) {
      socket = null;
      if (FINAL[event.code]) {
        ended = true;
        state("ended");
        return;
      }
      state("closed");
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 5000);
    });
  }

  window.addEventListener("pagehide", function () {
    ended = true;
    if (socket) socket.close(1000);
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && !socket) {
      ended = false;
      connect();
    }
  });
  connect();
})();
