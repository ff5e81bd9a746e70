// hush dashboard: the one script (no inline script is allowed). It only
// enhances pages that work without it: hides a revealed value after its
// timeout, offers a copy button, and asks before a delete.
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
});
