/* Tonight: keeps the day in step with the live feed and lets a host drag a
 * booking to another time or table.
 *
 * - "saveit:live" (static/live.js): a reservation change on this page's day
 *   redraws the timeline rows of the tables it touched (data-rows), or the
 *   whole #tonight-day (data-refresh) when it cannot (the list view, a booking
 *   without a table, the timeline's span changed, a snapshot). One request at a
 *   time; changes arriving meanwhile are merged into the next. Focus stays on
 *   the block or link it was on. A change to the booking open in the panel
 *   shows a note that it changed elsewhere (its forms still carry the old
 *   version: the server refuses them rather than overwrite).
 * - "tonight-changed" (HX-Trigger of our own answers) redraws the day too.
 * - Drag and drop: dropping a block on a table's row at a time posts the move
 *   (start = the slot under the block's left edge, table = the row). The block
 *   is drawn there at once; if the server refuses (taken, or changed
 *   meanwhile) it goes back where it was and the reason is shown. The panel's
 *   move form does the same from the keyboard.
 */
(function () {
  "use strict";

  var busy = false;
  var dragging = null;

  function day() {
    return document.getElementById("tonight-day");
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // console.js moves focus to a [data-focus] element after each swap; once used,
  // the mark is spent, so a redraw of the day never pulls focus into the panel.
  function spendFocusMarks() {
    document.querySelectorAll("[data-focus]").forEach(function (el) {
      el.removeAttribute("data-focus");
    });
  }
  document.addEventListener("htmx:afterSwap", spendFocusMarks);
  var marked = document.querySelector("[data-focus]");
  if (marked) marked.focus();
  spendFocusMarks();

  // What to redraw next: the whole day, or only some tables' rows (a live change
  // names the tables it touched, before and after). One request at a time; what
  // arrives meanwhile is merged into the next one.
  var want = { full: false, tables: {} };

  function schedule(tables) {
    if (!tables || !tables.length) want.full = true;
    else tables.forEach(function (t) { want.tables[t] = true; });
    pump();
  }

  function refresh() {
    schedule(null);
  }

  function pump() {
    var el = day();
    if (!el || !window.htmx || busy || dragging) return;
    var tables = Object.keys(want.tables);
    if (!want.full && !tables.length) return;
    var full = want.full || el.getAttribute("data-view") !== "timeline";
    want = { full: false, tables: {} };
    busy = true;
    var keep = document.activeElement;
    var work = full ? redrawDay() : redrawRows(el, tables);
    work.then(
      function () { finish(keep); },
      function () { finish(keep); }
    );
  }

  function redrawDay() {
    return window.htmx.ajax("GET", day().getAttribute("data-refresh"), {
      target: "#tonight-day",
      swap: "outerHTML",
    });
  }

  function redrawRows(el, tables) {
    var grid = el.querySelector(".tl");
    if (!grid) return redrawDay();
    var url = el.getAttribute("data-rows") +
      "&tables=" + encodeURIComponent(tables.join(",")) +
      "&origin=" + encodeURIComponent(grid.getAttribute("data-origin")) +
      "&columns=" + encodeURIComponent(grid.getAttribute("data-columns"));
    return fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } }).then(function (answer) {
      if (!answer.ok || answer.headers.get("X-Tonight-Redraw")) return redrawDay();
      return answer.text().then(function (html) {
        var parsed = new DOMParser().parseFromString(html, "text/html");
        var fresh = parsed.querySelectorAll(".tl-row[id]");
        for (var i = 0; i < fresh.length; i++) {
          if (!document.getElementById(fresh[i].id)) return redrawDay();
        }
        for (var j = 0; j < fresh.length; j++) {
          var row = document.importNode(fresh[j], true);
          document.getElementById(fresh[j].id).replaceWith(row);
          window.htmx.process(row);
        }
        var summary = parsed.getElementById("tonight-summary");
        var shown = document.getElementById("tonight-summary");
        if (summary && shown) shown.textContent = summary.textContent;
      });
    });
  }

  function finish(keep) {
    busy = false;
    // Focus stays where it was: on the same element, or on its redrawn twin (same id).
    var back = keep && keep !== document.body ? (keep.isConnected ? keep : keep.id && document.getElementById(keep.id)) : null;
    if (back && document.activeElement !== back) back.focus();
    pump();
  }

  var touched = {}; // tables a reservation event touched, by its position

  document.addEventListener("saveit:live", function (event) {
    var doc = event.detail || {};
    var el = day();
    if (!el) return;
    var reservation = doc.reservation;
    if (reservation && typeof doc.type === "string" && doc.type.indexOf("reservation.") === 0) {
      var tables = (reservation.tables || []).concat((doc.before && doc.before.tables) || []);
      // A booking without a table sits on the "no table" row: redraw the day.
      touched[doc.position] = reservation.tables && reservation.tables.length ? tables : null;
    }
    if (doc.type === "snapshot") refresh();
    if (doc.type === "availability.changed" && doc.date === el.getAttribute("data-day")) {
      schedule(Object.prototype.hasOwnProperty.call(touched, doc.position) ? touched[doc.position] : null);
    }
    if (doc.completes) delete touched[doc.position];
    var panel = document.getElementById("tonight-detail");
    if (reservation && panel && panel.getAttribute("data-code") === reservation.code &&
        String(reservation.version) !== panel.getAttribute("data-version")) {
      var note = panel.querySelector("[data-changed-note]");
      if (note) note.hidden = false;
    }
  });

  document.body.addEventListener("tonight-changed", refresh);

  // The panel's Close link: empty the panel without leaving the page.
  document.addEventListener("click", function (event) {
    var close = event.target.closest && event.target.closest("[data-close]");
    if (!close) return;
    var panel = document.getElementById("tonight-detail");
    if (!panel) return;
    event.preventDefault();
    var code = panel.getAttribute("data-code");
    var empty = document.createElement("div");
    empty.id = "tonight-detail";
    panel.replaceWith(empty);
    var block = code && document.querySelector('[data-code="' + code + '"]:not([tabindex="-1"])');
    if (block) block.focus();
  });

  // --- drag and drop ------------------------------------------------------------------

  function say(text, isBusy) {
    var alert = document.getElementById("tonight-alert");
    if (!alert) return;
    alert.classList.toggle("busy", !!isBusy);
    alert.textContent = text || "";
  }

  document.addEventListener("dragstart", function (event) {
    var block = event.target.closest && event.target.closest(".tl-block[draggable=true]");
    if (!block) return;
    var rect = block.getBoundingClientRect();
    dragging = {
      block: block,
      parent: block.parentNode,
      next: block.nextSibling,
      className: block.className,
      grab: event.clientX - rect.left,
    };
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", block.getAttribute("data-code"));
    block.classList.add("dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragging && dragging.block) dragging.block.classList.remove("dragging");
    document.querySelectorAll(".drop-target").forEach(function (t) {
      t.classList.remove("drop-target");
    });
    if (dragging && !dragging.posting) {
      dragging = null;
      pump();
    }
  });

  function trackAt(event) {
    var track = event.target.closest && event.target.closest(".tl-track[data-table]");
    return track && track.getAttribute("data-table") ? track : null;
  }

  document.addEventListener("dragover", function (event) {
    if (!dragging) return;
    var track = trackAt(event);
    if (!track) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".drop-target").forEach(function (t) {
      if (t !== track) t.classList.remove("drop-target");
    });
    track.classList.add("drop-target");
  });

  document.addEventListener("drop", function (event) {
    if (!dragging) return;
    var track = trackAt(event);
    if (!track) return;
    event.preventDefault();
    var grid = track.closest(".tl");
    var columns = parseInt(grid.getAttribute("data-columns"), 10);
    var slot = parseInt(grid.getAttribute("data-slot"), 10);
    var origin = Date.parse(grid.getAttribute("data-origin"));
    var rect = track.getBoundingClientRect();
    var width = rect.width / columns;
    var column = Math.floor((event.clientX - dragging.grab - rect.left + width / 2) / width);
    column = Math.max(0, Math.min(columns - 1, column));
    var start = new Date(origin + column * slot * 60000).toISOString();
    move(dragging, track, column, start);
  });

  function move(drag, track, column, start) {
    var block = drag.block;
    var code = block.getAttribute("data-code");
    var table = track.getAttribute("data-table");
    drag.posting = true;
    block.classList.remove("dragging");
    block.className = block.className.replace(/\bc\d+\b/, "c" + (column + 1)) + " moving";
    track.appendChild(block);
    var alert = document.getElementById("tonight-alert");
    say(alert ? alert.getAttribute("data-moving") : "", true);
    var body = new URLSearchParams({ start: start, table: table, version: block.getAttribute("data-version") });
    var base = day().getAttribute("data-base");
    fetch(base + "/b/" + encodeURIComponent(code) + "/move", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf(), "HX-Request": "true" },
      body: body.toString(),
      credentials: "same-origin",
    })
      .then(function (answer) {
        return answer.text().then(function (html) {
          return { ok: answer.ok, html: html };
        });
      })
      .then(
        function (result) {
          settle(drag, result.ok, result.html);
        },
        function () {
          settle(drag, false, "");
        }
      );
  }

  function settle(drag, ok, html) {
    var block = drag.block;
    var parsed = new DOMParser().parseFromString(html || "", "text/html");
    var problem = parsed.querySelector("[data-problem]");
    var panel = document.getElementById("tonight-detail");
    if (ok) {
      say("", false);
      block.classList.remove("moving");
    } else {
      // Refused: the block goes back where it was, and the reason is shown.
      block.className = drag.className;
      drag.parent.insertBefore(block, drag.next && drag.next.parentNode === drag.parent ? drag.next : null);
      say(problem ? problem.textContent.trim() : "", false);
    }
    var fresh = parsed.getElementById("tonight-detail");
    if (fresh && panel && panel.getAttribute("data-code") === fresh.getAttribute("data-code")) {
      panel.replaceWith(document.importNode(fresh, true));
      if (window.htmx) window.htmx.process(document.getElementById("tonight-detail"));
    }
    dragging = null;
    refresh();
  }
})();
