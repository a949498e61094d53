/* SaveIt console, Inbox: keeps the newest message in view and refreshes the
 * list and the thread at once when the live feed says something happened
 * (a "saveit:live" event on document); the pages' own htmx poll covers the
 * time before, and any gap in, the live feed. */
(function () {
  "use strict";

  var REFRESHING = /^(message|conversation)\./;

  function showNewest() {
    var log = document.querySelector(".thread-log");
    if (log) log.scrollTop = log.scrollHeight;
  }

  document.addEventListener("saveit:live", function (event) {
    var detail = event.detail || {};
    if (typeof detail.type === "string" && REFRESHING.test(detail.type) && window.htmx) {
      window.htmx.trigger(document.body, "inbox-refresh");
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && (target.id === "thread-messages" || target.id === "inbox-thread")) showNewest();
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", showNewest);
  } else {
    showNewest();
  }
})();
