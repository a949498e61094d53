/*
 * SaveIt web chat widget: one script tag, no build step, no external resources.
 *
 *   <script src="https://<saveit host>/widget.js" data-restaurant="<slug>"
 *           data-lang="es" async></script>
 *
 * Optional: data-lang="es|en" (default: the browser's language), data-color="#0b6e4f".
 *
 * Why it is built the way it is:
 * - Everything lives in an open shadow root, so the restaurant's CSS cannot break
 *   the widget and ours cannot leak into their page. Styles are a constructed
 *   stylesheet where supported (not blocked by a site's style-src CSP), else a
 *   <style> element.
 * - The socket URL comes from this script's own src, so the widget works on any
 *   domain the restaurant's site lives on: ws(s)://<saveit host>/ws/chat/<slug>.
 * - The session token the server issues is kept in localStorage per SaveIt host
 *   and restaurant; with it the server restores the conversation on reconnect.
 *   It is offered as a WebSocket subprotocol ("saveit.session.<token>", next to
 *   "saveit.chat"), never in the URL, which access logs and proxies record.
 * - Guest and bot text is only ever set with textContent, never parsed as HTML.
 * - Every message carries a client id; unacknowledged messages are resent after
 *   a reconnect and the server stores each id once, so nothing is lost or doubled.
 * - The protocol is documented in saveit/channels/webchat.py.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) {
    script = document.querySelector('script[data-restaurant][src*="widget.js"]');
  }
  if (!script) return;
  var slug = (script.getAttribute("data-restaurant") || "").trim();
  if (!slug) {
    if (window.console) console.warn("SaveIt chat: data-restaurant is missing");
    return;
  }
  var registry = (window.__saveitChat = window.__saveitChat || {});
  if (registry[slug]) return; // the tag was included twice
  registry[slug] = true;

  var MAX_TEXT = 2000;
  var PING_MS = 25000;
  var DEAD_MS = 60000;
  var TYPING_MAX_MS = 30000;
  var TYPING_SEND_MS = 3000;
  var RETRY_MS = 3000;

  var origin = new URL(script.src, document.baseURI).origin;
  var socketUrl =
    origin.replace(/^http/, "ws") + "/ws/chat/" + encodeURIComponent(slug);
  var storageKey = "saveit-chat:" + origin + ":" + slug;

  var STRINGS = {
    es: {
      open: "Abrir chat",
      close: "Cerrar chat",
      title: "Chat",
      greeting: "¡Hola! ¿En qué podemos ayudarte?",
      placeholder: "Escribe un mensaje…",
      send: "Enviar",
      connecting: "Conectando…",
      offline: "Sin conexión. Reintentando…",
      unavailable: "El chat no está disponible ahora.",
      typing: "Escribiendo…",
      tooLong: "El mensaje es demasiado largo (máximo 2000 caracteres).",
      notSent: "No enviado",
      slowDown: "Demasiados mensajes. Espera un momento.",
      unread: "mensajes nuevos",
      staff: "el equipo",
    },
    en: {
      open: "Open chat",
      close: "Close chat",
      title: "Chat",
      greeting: "Hi! How can we help you?",
      placeholder: "Write a message…",
      send: "Send",
      connecting: "Connecting…",
      offline: "Offline. Retrying…",
      unavailable: "The chat is not available right now.",
      typing: "Typing…",
      tooLong: "The message is too long (2000 characters at most).",
      notSent: "Not sent",
      slowDown: "Too many messages. Please wait a moment.",
      unread: "new messages",
      staff: "Staff",
    },
  };
  var lang = (script.getAttribute("data-lang") || navigator.language || "es")
    .slice(0, 2)
    .toLowerCase();
  if (!STRINGS[lang]) lang = "en";
  var t = STRINGS[lang];
  var color = script.getAttribute("data-color") || "";
  if (!/^#[0-9a-fA-F]{3,8}$/.test(color)) color = "#0b6e4f";

  // --- storage (may be blocked: private modes, third-party storage rules) ----------
  var memory = {};
  function load(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (e) {
      return memory[key] || null;
    }
  }
  function save(key, value) {
    memory[key] = value;
    try {
      window.localStorage.setItem(key, value);
    } catch (e) {
      /* kept in memory for this page */
    }
  }
  function sessionFlag(name, value) {
    try {
      if (value === undefined) return window.sessionStorage.getItem(storageKey + ":" + name) === "1";
      window.sessionStorage.setItem(storageKey + ":" + name, value ? "1" : "0");
    } catch (e) {
      return false;
    }
    return value;
  }

  function uid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return (b < 16 ? "0" : "") + b.toString(16);
      })
      .join("");
  }

  // --- DOM helpers: our own structure only; text always via textContent ------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        if (name === "text") node.textContent = attrs[name];
        else if (name === "className") node.className = attrs[name];
        else node.setAttribute(name, attrs[name]);
      });
    }
    (children || []).forEach(function (child) {
      node.appendChild(child);
    });
    return node;
  }
  function icon(pathData) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "24");
    svg.setAttribute("height", "24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", pathData);
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }
  var CHAT_ICON =
    "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2zm3 6v2h2v-2H7zm4 0v2h2v-2h-2zm4 0v2h2v-2h-2z";
  var CLOSE_ICON =
    "M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7 2.9 18.3 9.2 12 2.9 5.7 4.3 4.3l6.3 6.3 6.3-6.3z";
  var SEND_ICON = "M3 20.5 21 12 3 3.5v6.6L15 12 3 13.9z";

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box}",
    ".launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;",
    "border:0;background:var(--saveit-accent);color:#fff;cursor:pointer;display:flex;",
    "align-items:center;justify-content:center;box-shadow:0 6px 20px rgba(0,0,0,.25);",
    "z-index:2147483000;-webkit-tap-highlight-color:transparent}",
    ".launcher:focus-visible,button:focus-visible,textarea:focus-visible{outline:3px solid #8ab4f8;outline-offset:2px}",
    ".badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;padding:0 6px;",
    "border-radius:10px;background:#d93025;color:#fff;font:600 12px/20px system-ui,sans-serif}",
    ".panel{position:fixed;right:20px;bottom:88px;width:370px;height:min(600px,calc(100vh - 110px));",
    "display:flex;flex-direction:column;background:#f6f7f9;color:#1f2328;border-radius:16px;",
    "box-shadow:0 12px 40px rgba(0,0,0,.28);overflow:hidden;z-index:2147483001;",
    "font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}",
    "[hidden]{display:none!important}",
    ".head{display:flex;align-items:center;gap:8px;padding:12px 12px 12px 16px;",
    "background:var(--saveit-accent);color:#fff}",
    ".titles{flex:1;min-width:0}",
    ".title{font-weight:600;font-size:16px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}",
    ".status{font-size:12px;opacity:.9;min-height:16px}",
    ".close{border:0;background:transparent;color:inherit;width:40px;height:40px;border-radius:50%;",
    "cursor:pointer;display:flex;align-items:center;justify-content:center}",
    ".log{flex:1;overflow-y:auto;overscroll-behavior:contain;list-style:none;margin:0;",
    "padding:12px;display:flex;flex-direction:column;gap:6px;background:#f6f7f9}",
    ".msg{max-width:82%;padding:8px 12px;border-radius:16px;white-space:pre-wrap;",
    "overflow-wrap:anywhere;word-break:break-word}",
    ".msg.in{align-self:flex-end;background:var(--saveit-accent);color:#fff;border-bottom-right-radius:4px}",
    ".msg.out{align-self:flex-start;background:#fff;border:1px solid #e3e5e8;border-bottom-left-radius:4px}",
    ".msg.intro{align-self:center;background:transparent;border:0;color:#57606a;font-size:14px;text-align:center}",
    ".msg.pending{opacity:.6}",
    ".msg.failed{background:#fce8e6;color:#a50e0e}",
    ".meta{display:block;margin-top:2px;font-size:11px}",
    ".msg.out .meta{color:#57606a}",
    ".author{display:block;font-size:12px;font-weight:600;margin-bottom:2px}",
    ".msg img{display:block;max-width:100%;border-radius:8px;margin-top:6px}",
    ".typing{align-self:flex-start;margin:0 12px 6px;padding:10px 14px;background:#fff;",
    "border:1px solid #e3e5e8;border-radius:16px;display:flex;gap:4px}",
    ".typing span{width:7px;height:7px;border-radius:50%;background:#8c959f;",
    "animation:saveit-dot 1.2s infinite ease-in-out}",
    ".typing span:nth-child(2){animation-delay:.15s}.typing span:nth-child(3){animation-delay:.3s}",
    "@keyframes saveit-dot{0%,60%,100%{transform:translateY(0);opacity:.5}30%{transform:translateY(-4px);opacity:1}}",
    ".choices{display:flex;flex-wrap:wrap;gap:6px;padding:8px 12px;background:#f6f7f9}",
    ".choices-label{width:100%;font-size:12px;color:#57606a}",
    ".choice{border:1px solid var(--saveit-accent);color:var(--saveit-accent);background:#fff;",
    "border-radius:18px;padding:6px 14px;min-height:36px;font:inherit;cursor:pointer;text-align:left}",
    ".choice small{display:block;font-size:12px;color:#57606a}",
    ".composer{display:flex;align-items:flex-end;gap:8px;padding:8px;border-top:1px solid #e3e5e8;",
    "background:#fff;padding-bottom:max(8px,env(safe-area-inset-bottom))}",
    ".input{flex:1;resize:none;border:1px solid #d0d7de;border-radius:20px;padding:9px 14px;",
    "font-size:16px;line-height:1.35;font-family:inherit;max-height:120px;min-height:40px;color:inherit;background:#fff}",
    ".send{width:40px;height:40px;border:0;border-radius:50%;background:var(--saveit-accent);",
    "color:#fff;cursor:pointer;display:flex;align-items:center;justify-content:center;flex:none}",
    ".send:disabled{opacity:.5;cursor:default}",
    ".notice{padding:6px 12px;font-size:13px;color:#a50e0e;background:#fce8e6}",
    "@media (max-width:480px){",
    ".panel{top:0;left:0;right:0;bottom:0;width:100%;height:100%;height:100dvh;max-height:none;border-radius:0}",
    ".launcher.open{display:none}",
    "}",
    "@media (prefers-reduced-motion:reduce){.typing span{animation:none}}",
  ].join("");

  // --- build ----------------------------------------------------------------------
  var host = el("div", { id: "saveit-chat-" + slug.replace(/[^A-Za-z0-9_-]/g, "") });
  host.style.setProperty("--saveit-accent", color);
  var root = host.attachShadow({ mode: "open" });
  if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      root.appendChild(el("style", { text: CSS }));
    }
  } else {
    root.appendChild(el("style", { text: CSS }));
  }

  var badge = el("span", { className: "badge", hidden: "" });
  var launcher = el(
    "button",
    { className: "launcher", type: "button", "aria-label": t.open, "aria-expanded": "false" },
    [icon(CHAT_ICON), badge]
  );
  var title = el("div", { className: "title", text: t.title });
  var status = el("div", { className: "status", role: "status" });
  var closeButton = el("button", { className: "close", type: "button", "aria-label": t.close }, [
    icon(CLOSE_ICON),
  ]);
  // A div, not a list: role="log" replaces a list's semantics, and list items
  // outside a list are announced wrongly by screen readers.
  var log = el("div", { className: "log", role: "log", "aria-live": "polite" });
  var typing = el("div", { className: "typing", hidden: "", "aria-label": t.typing }, [
    el("span"),
    el("span"),
    el("span"),
  ]);
  var choices = el("div", { className: "choices", hidden: "" });
  var notice = el("div", { className: "notice", role: "alert", hidden: "" });
  var input = el("textarea", {
    className: "input",
    rows: "1",
    maxlength: String(MAX_TEXT),
    placeholder: t.placeholder,
    "aria-label": t.placeholder,
    enterkeyhint: "send",
  });
  var sendButton = el("button", { className: "send", type: "submit", "aria-label": t.send }, [
    icon(SEND_ICON),
  ]);
  var composer = el("form", { className: "composer" }, [input, sendButton]);
  var panel = el("section", { className: "panel", role: "dialog", "aria-label": t.title, hidden: "" }, [
    el("div", { className: "head" }, [el("div", { className: "titles" }, [title, status]), closeButton]),
    log,
    typing,
    choices,
    notice,
    composer,
  ]);
  root.appendChild(launcher);
  root.appendChild(panel);

  // --- state ----------------------------------------------------------------------
  var token = load(storageKey);
  var ws = null;
  var attempt = 0;
  var reconnectTimer = null;
  var pingTimer = null;
  var typingTimer = null;
  var retryTimer = null;
  var lastFrameAt = 0;
  var lastTypingSent = 0;
  var unavailable = false;
  var isOpen = false;
  var unread = 0;
  var shown = {}; // public id -> node
  var local = {}; // client id -> node of a message this page sent
  var pending = []; // unacknowledged frames, in order: {id, frame}
  var lastMessage = null; // the latest message shown: quick replies belong to it

  function setStatus(text) {
    status.textContent = text;
  }
  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }
  function setTyping(active) {
    clearTimeout(typingTimer);
    typing.hidden = !active;
    if (active) {
      typingTimer = setTimeout(function () {
        typing.hidden = true;
      }, TYPING_MAX_MS);
      stickToBottom(true);
    }
  }
  function setUnread(n) {
    unread = n;
    badge.textContent = n > 9 ? "9+" : String(n);
    badge.hidden = n === 0;
    launcher.setAttribute("aria-label", n ? t.open + " (" + n + " " + t.unread + ")" : t.open);
  }
  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }
  function stickToBottom(force) {
    if (force || nearBottom()) log.scrollTop = log.scrollHeight;
  }
  function clock(at) {
    var date = at ? new Date(at) : new Date();
    if (isNaN(date.getTime())) return "";
    return date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  }
  function safeImage(url) {
    return typeof url === "string" && /^(https?:|data:image\/(png|jpeg|gif|webp);base64,)/i.test(url);
  }

  // --- rendering ------------------------------------------------------------------
  function bubble(direction, text, at, extra) {
    var node = el("div", { className: "msg " + direction });
    if (extra && extra.author) node.appendChild(el("span", { className: "author", text: extra.author }));
    node.appendChild(el("span", { className: "text", text: text }));
    if (extra && extra.image && safeImage(extra.image.url)) {
      var img = el("img", { alt: extra.image.caption || "", loading: "lazy" });
      img.src = extra.image.url;
      node.appendChild(img);
    }
    node.appendChild(el("span", { className: "meta", text: clock(at) }));
    return node;
  }

  function render(message) {
    if (!message || typeof message.id !== "string" || shown[message.id]) return;
    var node = message.client_id ? local[message.client_id] : null;
    if (node) {
      node.classList.remove("pending", "failed");
      dropPending(message.client_id);
    } else {
      var author = "";
      if (message.author === "staff") {
        author = t.staff;
      } else if (typeof message.author === "string" && message.author.indexOf("staff:") === 0) {
        author = message.author.slice(6);
      }
      node = bubble(message.direction === "in" ? "in" : "out", String(message.text || ""), message.at, {
        author: author,
        image: message.image,
      });
      log.appendChild(node);
    }
    shown[message.id] = node;
    lastMessage = message;
    renderChoices();
  }

  function renderChoices() {
    while (choices.firstChild) choices.removeChild(choices.firstChild);
    var m = lastMessage;
    var items = [];
    if (m && m.direction === "out") {
      items = (m.buttons && m.buttons.length ? m.buttons : m.options) || [];
    }
    choices.hidden = items.length === 0;
    if (!items.length) return;
    if (m.options && m.options.length && m.options_label) {
      choices.appendChild(el("div", { className: "choices-label", text: m.options_label }));
    }
    items.forEach(function (item) {
      if (!item || typeof item.id !== "string" || typeof item.title !== "string") return;
      var button = el("button", { className: "choice", type: "button" }, [
        document.createTextNode(item.title),
      ]);
      if (item.description) button.appendChild(el("small", { text: item.description }));
      button.addEventListener("click", function () {
        choose(item);
      });
      choices.appendChild(button);
    });
    stickToBottom(true);
  }

  function renderHistory(messages) {
    while (log.firstChild) log.removeChild(log.firstChild);
    shown = {};
    lastMessage = null;
    log.appendChild(el("div", { className: "msg intro", text: t.greeting }));
    var keep = local;
    local = {};
    (messages || []).forEach(function (message) {
      if (message && message.client_id && keep[message.client_id]) {
        dropPending(message.client_id); // stored before; its ack was lost
        delete keep[message.client_id];
      }
      render(message);
    });
    // What this page sent and the server has not confirmed yet stays, still pending.
    pending.forEach(function (item) {
      var node = keep[item.id];
      if (node) {
        local[item.id] = node;
        log.appendChild(node);
      }
    });
    renderChoices();
    stickToBottom(true);
  }

  // --- sending --------------------------------------------------------------------
  function dropPending(id) {
    pending = pending.filter(function (item) {
      return item.id !== id;
    });
  }
  function transmit(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }
  function enqueue(frame, text) {
    var node = bubble("in", text, null, null);
    node.classList.add("pending");
    local[frame.id] = node;
    log.appendChild(node);
    pending.push({ id: frame.id, frame: frame });
    lastMessage = { direction: "in" };
    renderChoices();
    stickToBottom(true);
    if (!transmit(frame)) connect();
  }
  function sendText() {
    var text = input.value.trim();
    if (!text) return;
    if (text.length > MAX_TEXT) {
      showNotice(t.tooLong);
      return;
    }
    showNotice("");
    input.value = "";
    autosize();
    enqueue({ type: "message", id: uid(), text: text }, text);
  }
  function choose(item) {
    showNotice("");
    enqueue({ type: "choice", id: uid(), choice: { id: item.id, title: item.title } }, item.title);
  }
  function resendPending() {
    pending.forEach(function (item) {
      transmit(item.frame);
    });
  }
  function retrySoon() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(resendPending, RETRY_MS);
  }

  // --- the socket -----------------------------------------------------------------
  function handle(frame) {
    lastFrameAt = Date.now();
    switch (frame.type) {
      case "session":
        token = frame.session;
        save(storageKey, token);
        attempt = 0;
        setStatus("");
        if (frame.restaurant && frame.restaurant.name) {
          title.textContent = frame.restaurant.name;
          panel.setAttribute("aria-label", frame.restaurant.name);
        }
        break;
      case "history":
        renderHistory(frame.messages);
        resendPending();
        break;
      case "message":
        if (frame.message && frame.message.direction === "out") setTyping(false);
        render(frame.message);
        stickToBottom(true);
        if (!isOpen && frame.message && frame.message.direction === "out") setUnread(unread + 1);
        break;
      case "ack":
        if (local[frame.id]) local[frame.id].classList.remove("pending");
        dropPending(frame.id);
        break;
      case "typing":
        setTyping(!!frame.active);
        break;
      case "error":
        if (frame.code === "RATE_LIMITED" || frame.code === "UNAVAILABLE") {
          if (frame.code === "RATE_LIMITED") showNotice(t.slowDown);
          if (frame.id) retrySoon();
        } else if (frame.id && local[frame.id]) {
          local[frame.id].classList.remove("pending");
          local[frame.id].classList.add("failed");
          local[frame.id].querySelector(".meta").textContent = t.notSent;
          dropPending(frame.id);
          if (frame.code === "TEXT_TOO_LONG") showNotice(t.tooLong);
        }
        break;
      default:
        break; // pong, and whatever a newer server adds
    }
  }

  function connect() {
    if (unavailable || ws) return;
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    setStatus(t.connecting);
    var protocols = ["saveit.chat"];
    if (token && /^[A-Za-z0-9_-]{32}$/.test(token)) protocols.push("saveit.session." + token);
    var socket;
    try {
      socket = new WebSocket(socketUrl, protocols);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = socket;
    socket.onmessage = function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (frame && typeof frame.type === "string") handle(frame);
    };
    socket.onopen = function () {
      lastFrameAt = Date.now();
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        if (Date.now() - lastFrameAt > DEAD_MS) {
          socket.close(); // silent for too long: a dead connection the OS has not noticed
          return;
        }
        transmit({ type: "ping" });
      }, PING_MS);
    };
    socket.onclose = function (event) {
      if (ws !== socket) return;
      ws = null;
      clearInterval(pingTimer);
      setTyping(false);
      if (event.code === 4404) {
        unavailable = true;
        setStatus(t.unavailable);
        sendButton.disabled = true;
        return;
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (reconnectTimer || unavailable) return;
    setStatus(t.offline);
    var delay = Math.min(30000, 1000 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
    attempt = Math.min(attempt + 1, 10);
    reconnectTimer = setTimeout(function () {
      reconnectTimer = null;
      connect();
    }, delay);
  }
  function reconnectNow() {
    if (!isOpen || ws || unavailable) return;
    attempt = 0;
    connect();
  }

  // --- panel ----------------------------------------------------------------------
  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(120, input.scrollHeight + 2) + "px";
  }
  function fitViewport() {
    // Phones: keep the composer above the on-screen keyboard.
    var vv = window.visualViewport;
    if (!vv || !isOpen || window.innerWidth > 480) {
      panel.style.height = "";
      panel.style.top = "";
      return;
    }
    panel.style.height = vv.height + "px";
    panel.style.top = vv.offsetTop + "px";
  }
  function open() {
    isOpen = true;
    sessionFlag("open", true);
    panel.hidden = false;
    launcher.classList.add("open");
    launcher.setAttribute("aria-expanded", "true");
    setUnread(0);
    if (!log.firstChild) log.appendChild(el("div", { className: "msg intro", text: t.greeting }));
    connect();
    fitViewport();
    stickToBottom(true);
    if (window.innerWidth > 480) input.focus();
  }
  function close() {
    isOpen = false;
    sessionFlag("open", false);
    panel.hidden = true;
    launcher.classList.remove("open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (isOpen) close();
    else open();
  });
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") close();
  });
  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    sendText();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendText();
    }
  });
  input.addEventListener("input", function () {
    autosize();
    var now = Date.now();
    if (input.value && now - lastTypingSent > TYPING_SEND_MS) {
      lastTypingSent = now;
      transmit({ type: "typing" });
    }
  });
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") reconnectNow();
  });
  if (window.visualViewport) {
    window.visualViewport.addEventListener("resize", fitViewport);
    window.visualViewport.addEventListener("scroll", fitViewport);
  }

  function mount() {
    document.body.appendChild(host);
    if (sessionFlag("open")) open(); // a reload keeps an open chat open
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
