/* SaveIt console: the door scanner.
 *
 * The device camera's picture is read a few times a second by the ZXing-C++
 * WebAssembly reader (zxing-reader.min.js + zxing_reader.wasm, served by SaveIt;
 * the page's CSP allows compiling WebAssembly and nothing else). A QR's text is
 * posted like a typed booking code (htmx, CSRF header from console.js); the
 * answer fills the page's live regions out of band. The same code is not sent
 * again for a while, so a guest who keeps holding up the phone is checked in
 * once; a result stays on screen for a few seconds and then the page says it is
 * ready for the next guest, with nobody touching the screen.
 *
 * No camera, no permission or no WebAssembly: the page says so and the typed
 * booking code works as before.
 */
(function () {
  "use strict";

  var SCAN_EVERY_MS = 150; // between two reads of the picture
  var SAME_CODE_MS = 8000; // the same QR again within this is the same guest
  var SHOW_WELCOME_MS = 6000; // then the page is ready for the next guest
  var SHOW_REFUSAL_MS = 10000;
  var MAX_WIDTH = 960; // the picture is scaled down to this before reading

  var root = document.getElementById("door");
  if (!root) return;
  var video = document.getElementById("door-video");
  var frame = root.querySelector(".door-video");
  var state = document.getElementById("door-camera-state");
  var toggle = document.getElementById("door-camera-toggle");
  var form = document.getElementById("door-form");
  var input = document.getElementById("door-code");
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });

  var stream = null;
  var running = false;
  var pausedByHost = false;
  var sending = false;
  var last = { text: "", at: 0 };
  var resetTimer = null;
  var reader = null;

  function text(name) {
    return root.getAttribute("data-text-" + name) || "";
  }

  function say(name) {
    state.textContent = text(name);
  }

  // --- the answer on screen --------------------------------------------------

  function clearAnswer() {
    ["door-welcome", "door-refusal"].forEach(function (id) {
      var region = document.getElementById(id);
      if (region) region.textContent = "";
    });
  }

  function answered() {
    var shown = document.querySelector("#door-result .outcome");
    if (!shown) return;
    var welcome = shown.getAttribute("data-tone") === "welcome";
    beep(welcome);
    if (resetTimer) clearTimeout(resetTimer);
    resetTimer = setTimeout(function () {
      resetTimer = null;
      clearAnswer();
    }, welcome ? SHOW_WELCOME_MS : SHOW_REFUSAL_MS);
  }

  var audio = null;
  function beep(welcome) {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return;
      audio = audio || new Context();
      if (audio.state === "suspended") audio.resume();
      var tones = welcome ? [880] : [220, 220];
      tones.forEach(function (hz, i) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        var start = audio.currentTime + i * 0.25;
        osc.frequency.value = hz;
        gain.gain.setValueAtTime(0.2, start);
        gain.gain.exponentialRampToValueAtTime(0.001, start + 0.2);
        osc.connect(gain).connect(audio.destination);
        osc.start(start);
        osc.stop(start + 0.2);
      });
    } catch (e) {
      /* no sound is fine: the screen says it all */
    }
  }

  function send(code) {
    if (sending || typeof htmx === "undefined") return;
    sending = true;
    htmx
      .ajax("POST", root.getAttribute("data-post"), {
        // Not the form as source: htmx would validate it (its field is required
        // and empty) and send its fields too.
        source: root,
        target: "#door-result",
        swap: "none",
        values: { code: code },
      })
      .then(answered, function () {})
      .then(function () {
        sending = false;
      });
  }

  // The typed code: after an answer the field is ready for the next one.
  form.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt !== form) return;
    answered();
    var xhr = event.detail.xhr;
    if (xhr && xhr.status >= 200 && xhr.status < 300) input.value = "";
    input.focus();
    input.select();
  });

  // --- the camera -------------------------------------------------------------

  function prepareReader() {
    if (reader) return reader;
    if (typeof ZXingWASM === "undefined" || typeof WebAssembly === "undefined") {
      reader = Promise.reject(new Error("no reader"));
    } else {
      var wasm = root.getAttribute("data-wasm");
      reader = ZXingWASM.prepareZXingModule({
        overrides: {
          locateFile: function (path, prefix) {
            return path.endsWith(".wasm") ? wasm : prefix + path;
          },
        },
        fireImmediately: true,
      });
    }
    return reader;
  }

  function scan() {
    if (!running) return;
    if (video.readyState < 2 || !video.videoWidth) {
      setTimeout(scan, SCAN_EVERY_MS);
      return;
    }
    var scale = Math.min(1, MAX_WIDTH / video.videoWidth);
    var width = Math.round(video.videoWidth * scale);
    var height = Math.round(video.videoHeight * scale);
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    context.drawImage(video, 0, 0, width, height);
    var picture = context.getImageData(0, 0, width, height);
    ZXingWASM.readBarcodes(picture, { formats: ["QRCode"], maxNumberOfSymbols: 1 })
      .then(function (found) {
        var hit = found && found[0];
        if (hit && hit.isValid && hit.text) {
          var now = Date.now();
          if (hit.text !== last.text || now - last.at > SAME_CODE_MS) {
            if (!sending) {
              last = { text: hit.text, at: now };
              send(hit.text);
            }
          } else {
            last.at = now; // still held up: keep ignoring it
          }
        }
      })
      .catch(function () {})
      .then(function () {
        setTimeout(scan, SCAN_EVERY_MS);
      });
  }

  function stop() {
    running = false;
    if (stream) {
      stream.getTracks().forEach(function (track) {
        track.stop();
      });
      stream = null;
    }
    video.srcObject = null;
  }

  function noCamera(reason) {
    stop();
    frame.hidden = true;
    toggle.hidden = true;
    say(reason);
    root.classList.add("door-no-camera");
    // Typing is the way in now; do not take focus from someone already elsewhere.
    if (document.activeElement === document.body || !document.activeElement) input.focus();
  }

  function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      noCamera("none");
      return;
    }
    prepareReader().then(openCamera, function () {
      noCamera("failed");
    });
  }

  function openCamera() {
    return navigator.mediaDevices
      .getUserMedia({
        audio: false,
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 } },
      })
      .then(
        function (camera) {
          stream = camera;
          video.srcObject = camera;
          frame.hidden = false;
          toggle.hidden = false;
          toggle.textContent = text("pause");
          root.classList.remove("door-no-camera");
          return video.play().then(function () {
            running = true;
            say("ready");
            scan();
          });
        },
        function (error) {
          var name = error && error.name;
          noCamera(name === "NotAllowedError" || name === "SecurityError" ? "denied" : "none");
        }
      );
  }

  toggle.addEventListener("click", function () {
    if (running) {
      pausedByHost = true;
      stop();
      frame.hidden = true;
      toggle.textContent = text("resume");
      say("paused");
    } else {
      pausedByHost = false;
      start();
    }
  });

  // A hidden tab does not keep the camera on.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      if (running) stop();
    } else if (!pausedByHost && !running && !root.classList.contains("door-no-camera")) {
      start();
    }
  });

  start();
})();
