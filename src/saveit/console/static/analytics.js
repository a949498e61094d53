/* SaveIt console, Analytics page: draws the charts with Chart.js (served by
 * SaveIt: static/chart.umd.min.js) from the page's data block
 * <script type="application/json" id="analytics-data">, which the server fills
 * with the same figures as the tables beside each chart. No inline script or
 * style: Chart.js sizes its canvas through the CSSOM, which the CSP allows.
 */
(function () {
  "use strict";

  var block = document.getElementById("analytics-data");
  if (!block || typeof window.Chart === "undefined") return;
  var data = JSON.parse(block.textContent);
  var Chart = window.Chart;
  var PALETTE = ["#0b6e4f", "#1a56db", "#b45309", "#a21caf", "#0e7490", "#be123c", "#4d7c0f", "#57606a"];
  var numbers = new Intl.NumberFormat(data.lang, { maximumFractionDigits: 1 });

  Chart.defaults.animation = false;
  Chart.defaults.color = "#1f2328";
  Chart.defaults.font.family = window.getComputedStyle(document.body).fontFamily;
  Chart.defaults.maintainAspectRatio = false;

  function shown(spec, value) {
    if (value === null || value === undefined) return "";
    return numbers.format(value) + (spec.percent ? (data.lang === "es" ? " %" : "%") : "");
  }

  function config(spec) {
    var line = spec.kind === "line";
    var datasets = spec.datasets.map(function (set, i) {
      var colour = PALETTE[i % PALETTE.length];
      return {
        label: set.label,
        data: set.data,
        backgroundColor: colour,
        borderColor: colour,
        borderWidth: line ? 2 : 0,
        pointRadius: line ? 3 : 0,
        spanGaps: true,
        stack: spec.stacked ? "all" : undefined
      };
    });
    var y = {
      beginAtZero: true,
      stacked: spec.stacked,
      ticks: {
        precision: spec.whole ? 0 : undefined,
        callback: function (value) { return shown(spec, value); }
      }
    };
    if (spec.top !== null) y.max = spec.top;
    return {
      type: spec.kind,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true,
        interaction: { mode: "index", intersect: false },
        scales: { x: { stacked: spec.stacked }, y: y },
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (item) { return item.dataset.label + ": " + shown(spec, item.parsed.y); }
            }
          }
        }
      }
    };
  }

  var canvases = document.querySelectorAll("canvas[data-chart]");
  Array.prototype.forEach.call(canvases, function (canvas) {
    var spec = data.charts[canvas.getAttribute("data-chart")];
    if (spec) new Chart(canvas, config(spec));
  });
})();
