// Shipyard studio charts: metric curves (uPlot) and parallel coordinates (canvas).
// Each series is fetched from the API down-sampled to about the chart's width in pixels
// (max_points), so a 1,000,000-point metric costs what a 1,000-point one does.
"use strict";
(function () {
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function css(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  function num(v) {
    var n = typeof v === "number" ? v : Number(v); // "NaN" / "Infinity" come as strings
    return isFinite(n) ? n : null;
  }

  // One series of one run: {steps, values, timestamps}, cached per URL for redraws.
  var cache = {};
  function history(run, key, points) {
    var url = "/api/v1/runs/" + encodeURIComponent(run) + "/metrics/history?key=" + encodeURIComponent(key) + "&max_points=" + points;
    if (!cache[url]) cache[url] = window.shipyard.api("GET", url);
    return cache[url];
  }

  // Debiased exponential moving average (as TensorBoard's smoothing slider): weight 0 = raw.
  function smooth(values, weight) {
    if (!weight) return values;
    var out = new Array(values.length), last = 0, n = 0;
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (v === null) { out[i] = null; continue; }
      last = last * weight + (1 - weight) * v; n++;
      out[i] = last / (1 - Math.pow(weight, n));
    }
    return out;
  }

  // x values of a series for the chosen axis, sorted (uPlot wants ascending x).
  function table(h, axis, weight, log) {
    var t0 = h.timestamps.length ? Math.min.apply(null, h.timestamps.slice(0, 1000)) : 0;
    var pairs = [];
    for (var i = 0; i < h.values.length; i++) {
      var x = axis === "wall" ? h.timestamps[i] / 1000 : axis === "rel" ? (h.timestamps[i] - t0) / 1000 : h.steps[i];
      var y = num(h.values[i]);
      if (log && y !== null && y <= 0) y = null; // a log axis has no place for 0 or less
      pairs.push([x, y]);
    }
    pairs.sort(function (a, b) { return a[0] - b[0]; });
    var xs = [], ys = [];
    for (var j = 0; j < pairs.length; j++) {
      if (j && pairs[j][0] === xs[xs.length - 1]) { ys[ys.length - 1] = pairs[j][1]; continue; }
      xs.push(pairs[j][0]); ys.push(pairs[j][1]);
    }
    return [xs, smooth(ys, weight)];
  }

  // metricChart(el, {series: [{run, key, label, color}], x: "step"|"wall"|"rel", log, smooth})
  // Fetches what it lacks, then draws; calling it again on the same el redraws in place.
  async function metricChart(el, opts) {
    var width = Math.max(200, el.clientWidth || 600);
    var points = Math.max(50, Math.min(2000, Math.round(width)));
    var message = el.querySelector(".chart-error");
    if (!message) { message = document.createElement("p"); message.className = "chart-error"; message.hidden = true; el.appendChild(message); }
    var found;
    try {
      found = await Promise.all(opts.series.map(function (s) { return history(s.run, s.key, points); }));
    } catch (error) { window.shipyard.showError(message, error); return null; }
    message.hidden = true;
    var tables = found.map(function (h) { return table(h, opts.x || "step", opts.smooth || 0, !!opts.log); });
    var data = tables.length === 1 ? tables[0] : window.uPlot.join(tables);
    var total = found.reduce(function (sum, h) { return sum + (h.total || 0); }, 0);
    var sampled = found.some(function (h) { return h.downsampled; });
    el.title = sampled ? total + " points, drawn down-sampled" : total + " points";
    var series = [{ label: opts.x === "step" || !opts.x ? "step" : opts.x === "rel" ? "seconds" : "time" }];
    opts.series.forEach(function (s, i) {
      // A line needs two points: a lone one (a final test score) is drawn as a dot.
      series.push({ label: s.label || s.key, stroke: s.color || PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true, points: { show: data[0].length < 3, size: 6 } });
    });
    var fg = css("--muted", "#888"), grid = css("--line", "#ddd");
    var axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    var config = {
      width: width, height: 220, series: series,
      scales: { x: { time: opts.x === "wall" }, y: opts.log ? { distr: 3 } : {} },
      axes: [axis, Object.assign({ size: 60 }, axis)],
      legend: { live: true },
    };
    if (el._plot) el._plot.destroy();
    var holder = el.querySelector(".plot") || el.appendChild(Object.assign(document.createElement("div"), { className: "plot" }));
    holder.textContent = "";
    if (!data[0].length) { holder.textContent = "No points."; return null; }
    el._plot = new window.uPlot(config, data, holder);
    // Drawn: what a test or a benchmark waits for ("interactive"), and the points it holds.
    el.dataset.ready = String(data[0].length);
    return el._plot;
  }

  // parallel(el, {runs: [{id, name, color}], axes: [{name, values: [per run, or null]}]})
  // A numeric axis (every value a number) is scaled min..max; any other is categorical,
  // its distinct values as evenly spaced ticks.
  function parallel(el, data) {
    var canvas = el.querySelector("canvas") || el.appendChild(document.createElement("canvas"));
    var width = Math.max(300, el.clientWidth), height = 320, ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio; canvas.height = height * ratio;
    canvas.style.width = width + "px"; canvas.style.height = height + "px";
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", "Parallel coordinates of " + data.runs.length + " runs over " + data.axes.map(function (a) { return a.name; }).join(", "));
    var ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    var fg = css("--fg", "#222"), line = css("--line", "#ccc");
    var top = 34, bottom = height - 30, left = 50, right = width - 50;
    var n = data.axes.length;
    if (!n) return;
    var scales = data.axes.map(function (a) {
      var present = a.values.filter(function (v) { return v !== null && v !== undefined && v !== ""; });
      var numeric = present.length > 0 && present.every(function (v) { return num(v) !== null; });
      if (numeric) {
        var nums = present.map(Number), lo = Math.min.apply(null, nums), hi = Math.max.apply(null, nums);
        return { numeric: true, lo: lo, hi: hi, pos: function (v) { return hi === lo ? 0.5 : (Number(v) - lo) / (hi - lo); } };
      }
      var cats = Array.from(new Set(present.map(String))).sort();
      return { numeric: false, cats: cats, pos: function (v) { return cats.length < 2 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1); } };
    });
    function x(i) { return n === 1 ? (left + right) / 2 : left + (right - left) * i / (n - 1); }
    function y(p) { return bottom - p * (bottom - top); }
    ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.lineWidth = 1;
    data.axes.forEach(function (a, i) {
      ctx.strokeStyle = line; ctx.beginPath(); ctx.moveTo(x(i), top); ctx.lineTo(x(i), bottom); ctx.stroke();
      ctx.fillStyle = fg; ctx.fillText(a.name.length > 18 ? a.name.slice(0, 17) + "…" : a.name, x(i), top - 18);
      var s = scales[i];
      var ticks = s.numeric ? [[s.hi, 1], [s.lo, 0]] : s.cats.map(function (c) { return [c, s.pos(c)]; });
      ticks.forEach(function (t) {
        var label = typeof t[0] === "number" ? String(Number(t[0].toPrecision(4))) : String(t[0]).slice(0, 12);
        ctx.fillText(label, x(i), y(t[1]) + (t[1] === 1 ? -4 : t[1] === 0 ? 14 : 4));
      });
    });
    ctx.lineWidth = 1.6;
    data.runs.forEach(function (r, k) {
      ctx.strokeStyle = r.color || PALETTE[k % PALETTE.length];
      ctx.beginPath();
      var drawing = false;
      data.axes.forEach(function (a, i) {
        var v = a.values[k];
        if (v === null || v === undefined || v === "") { drawing = false; return; } // a gap where a run lacks the key
        var py = y(scales[i].pos(v));
        if (drawing) ctx.lineTo(x(i), py); else ctx.moveTo(x(i), py);
        drawing = true;
      });
      ctx.stroke();
    });
  }

  // Lazy: a chart is fetched when it scrolls into view (a run may have hundreds of keys).
  function whenVisible(el, draw) {
    if (!("IntersectionObserver" in window)) { draw(); return; }
    var seen = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) { seen.disconnect(); draw(); }
    }, { rootMargin: "200px" });
    seen.observe(el);
  }

  // A page's charts: per-key cards (.chart[data-key]) of one or more runs, shared controls
  // ([data-chart-tools]) and an overlay card ([data-overlay-chart]) for several keys at once.
  function setUp(source) {
    var data = JSON.parse(source.textContent);
    var section = source.closest("section") || document;
    var runs = data.runs || [data.run];
    var state = { x: "step", log: false, smooth: 0, overlay: [] };
    var drawn = [];
    function seriesFor(keys) {
      var out = [];
      keys.forEach(function (key) {
        runs.forEach(function (r, i) {
          out.push({ run: r.id, key: key, color: runs.length > 1 ? r.color || PALETTE[i % PALETTE.length] : PALETTE[out.length % PALETTE.length],
                     label: runs.length > 1 && keys.length > 1 ? r.name + " · " + key : runs.length > 1 ? r.name : key });
        });
      });
      return out;
    }
    function options(keys) { return { series: seriesFor(keys), x: state.x, log: state.log, smooth: state.smooth }; }
    section.querySelectorAll(".chart[data-key]").forEach(function (el) {
      whenVisible(el, function () { drawn.push(el); metricChart(el, options([el.dataset.key])); });
    });
    var overlay = section.querySelector("[data-overlay-chart]");
    function redraw() {
      drawn.forEach(function (el) { metricChart(el, options([el.dataset.key])); });
      if (overlay) {
        overlay.closest("[data-overlay]").hidden = state.overlay.length < 1;
        if (state.overlay.length) metricChart(overlay, options(state.overlay));
      }
    }
    var tools = section.querySelector("[data-chart-tools]");
    if (tools) {
      tools.addEventListener("change", function (event) { read(event.target); redraw(); });
      tools.addEventListener("input", function (event) {
        if (event.target.dataset.opt === "smooth") { read(event.target); redraw(); }
      });
    }
    function read(input) {
      var opt = input.dataset.opt;
      if (opt === "x") state.x = input.value;
      else if (opt === "log") state.log = input.checked;
      else if (opt === "smooth") {
        state.smooth = Number(input.value);
        var out = input.parentNode.querySelector("output"); if (out) out.textContent = input.value;
      } else if (opt === "overlay") state.overlay = Array.from(input.selectedOptions).map(function (o) { return o.value; });
    }
    var resize;
    window.addEventListener("resize", function () { clearTimeout(resize); resize = setTimeout(redraw, 250); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-autosubmit]").forEach(function (input) {
      input.addEventListener("change", function () { input.form.submit(); });
    });
    document.querySelectorAll("script[type='application/json'][data-charts], #run-charts").forEach(setUp);
    document.querySelectorAll("script[type='application/json'][data-parallel]").forEach(function (source) {
      var target = document.getElementById(source.dataset.parallel);
      if (!target) return;
      var data = JSON.parse(source.textContent);
      parallel(target, data);
      var again;
      window.addEventListener("resize", function () { clearTimeout(again); again = setTimeout(function () { parallel(target, data); }, 250); });
    });
  });

  window.shipyardCharts = { metricChart: metricChart, parallel: parallel, palette: PALETTE };
})();
