// hush dashboard: the one script (no inline script is allowed). It only
// enhances pages that work without it: hides a revealed value after its
// timeout, offers a copy button, asks before a delete, and follows the
// audit log live (polling this server's tail; CSP connect-src 'self').
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var shown = document.getElementById("revealed");
  if (shown) {
    var secs = parseInt(shown.getAttribute("data-hide-after"), 10) || 30;
    setTimeout(function () {
      shown.textContent = "Hidden again. Reveal it once more if you still need it.";
      var copy = document.querySelector("button.copy");
      if (copy) { copy.hidden = true; }
    }, secs * 1000);
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (source) {
        navigator.clipboard.writeText(source.textContent).then(function () {
          button.textContent = "Copied";
        });
      }
    });
  });
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  tail(document.querySelector("table[data-tail]"), document.getElementById("live-tail"));
});

// The audit page's live tail: while the box is ticked, ask for the events
// after the newest one shown and put each on top. Stops on any refusal
// (e.g. an expired session, answered by a redirect to the sign-in form).
function tail(table, box) {
  if (!table || !box) { return; }
  var status = document.getElementById("tail-status");
  var every = (parseInt(table.getAttribute("data-every"), 10) || 5) * 1000;
  var timer = null;
  function say(text) { if (status) { status.textContent = text; } }
  function stop(text) {
    if (timer) { clearInterval(timer); timer = null; }
    box.checked = false;
    say(text);
  }
  function poll() {
    var url = table.getAttribute("data-tail") + "&after=" +
      encodeURIComponent(table.getAttribute("data-after"));
    fetch(url, { credentials: "same-origin" }).then(function (r) {
      var after = r.headers.get("X-Hush-After");
      if (!r.ok || r.redirected || !after) { throw new Error("refused"); }
      return r.text().then(function (text) {
        table.setAttribute("data-after", after);
        var rows = new DOMParser().parseFromString(text, "text/html").querySelectorAll("tbody tr");
        var body = table.tBodies[0];
        rows.forEach(function (row) { body.insertBefore(document.importNode(row, true), body.firstChild); });
        if (rows.length) { say(rows.length + " new event" + (rows.length > 1 ? "s" : "") + "."); }
      });
    }).catch(function () { stop("Live updates stopped: reload the page (you may need to sign in again)."); });
  }
  box.addEventListener("change", function () {
    if (box.checked) {
      say("Following the log.");
      poll();
      timer = setInterval(poll, every);
    } else {
      stop("Paused.");
    }
  });
}
