// Shipyard studio, a job's page: follow its log while it runs. The page holds the first tail
// (server-rendered); this reads on from the byte offset it ended at, every ~2 s while the job
// is not over, and keeps the last MAX_LINES lines in the <pre>, scrolled to the bottom unless
// the reader has scrolled up to read.
"use strict";
(function () {
  var MAX_LINES = 5000;
  var POLL_MS = 2000;
  var TERMINAL = ["Completed", "Failed", "Canceled"];

  function follow(pre) {
    var name = pre.dataset.job;
    var offset = Number(pre.dataset.offset) || 0;
    var status = pre.dataset.status;
    var decoder = new TextDecoder("utf-8");
    var note = document.getElementById("log-note");
    var errorBox = document.getElementById("log-error");
    var badge = document.querySelector("[data-job-status]");
    var failures = 0;
    pre.scrollTop = pre.scrollHeight;

    function append(text) {
      if (!text) return;
      var atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
      var lines = (pre.textContent + text).split("\n");
      if (lines.length > MAX_LINES) lines = lines.slice(lines.length - MAX_LINES);
      pre.textContent = lines.join("\n");
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }

    function setStatus(value) {
      if (!value || value === status) return;
      status = value;
      if (badge) { badge.textContent = value; badge.className = "status " + value.toLowerCase(); }
    }

    async function errorOf(answer) {
      var data = null;
      try { data = await answer.json(); } catch (e) { data = null; }
      var err = (data && data.error) || { code: "HTTP_" + answer.status, message: answer.statusText };
      var failure = new Error(err.message);
      failure.status = answer.status; failure.code = err.code; failure.details = err.details || {};
      return failure;
    }

    async function tick() {
      var answer;
      try {
        answer = await fetch("/api/v1/jobs/" + encodeURIComponent(name) + "/logs?offset=" + offset,
          { credentials: "same-origin", headers: { "Accept": "text/plain" }, cache: "no-store" });
      } catch (e) {
        failures += 1;  // the network, or the server restarting: try again, slower
        window.setTimeout(tick, Math.min(30000, POLL_MS * Math.pow(2, failures)));
        return;
      }
      if (!answer.ok) {
        var error = await errorOf(answer);
        if (answer.status >= 500 && failures < 5) {
          failures += 1;
          window.setTimeout(tick, POLL_MS * Math.pow(2, failures));
          return;
        }
        window.shipyard.showError(errorBox, error);  // 401/403/404: said, and no more polling
        return;
      }
      failures = 0;
      var bytes = new Uint8Array(await answer.arrayBuffer());
      setStatus(answer.headers.get("Shipyard-Job-Status"));
      if (bytes.length) {
        offset += bytes.length;
        append(decoder.decode(bytes, { stream: true }));
        window.setTimeout(tick, 0);  // more may be there at once (a page reads ≤ 1 MiB at a time)
        return;
      }
      if (TERMINAL.indexOf(status) >= 0) {
        append(decoder.decode());
        if (note) {
          note.textContent = "The job ended: " + status + ". ";
          var reload = document.createElement("a");
          reload.href = window.location.pathname;
          reload.textContent = "Reload for its outputs and timeline";
          note.appendChild(reload);
        }
        return;
      }
      window.setTimeout(tick, document.hidden ? POLL_MS * 5 : POLL_MS);
    }

    if (pre.dataset.follow === "true") window.setTimeout(tick, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var pre = document.getElementById("log");
    if (pre && pre.dataset.job) follow(pre);
  });
})();
