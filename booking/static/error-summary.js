// GOV.UK error summary behaviour: the summary takes focus so screen readers announce it first;
// following a link focuses the field itself and scrolls its label or legend into view
// (a plain #anchor would only scroll, leaving the question above it off-screen).
// A file of its own, not inline: the Content-Security-Policy allows scripts from 'self' only.
(function () {
  "use strict";

  function wire(summary) {
    // After load: a #fragment in the address (the form posts to one) would otherwise move
    // focus and scroll away once parsing ends.
    function focusSummary() {
      summary.scrollIntoView();
      summary.focus({ preventScroll: true });
    }
    if (document.readyState === "complete") {
      focusSummary();
    } else {
      window.addEventListener("load", focusSummary);
    }
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var input = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!input) {
        return;
      }
      event.preventDefault();
      var fieldset = input.closest("fieldset");
      var legend = fieldset && fieldset.querySelector("legend");
      var label = legend || document.querySelector("label[for='" + input.id + "']") || input;
      history.replaceState(null, "", "#" + input.id);
      label.scrollIntoView();
      input.focus({ preventScroll: true });
    });
  }

  function start() {
    var summary = document.querySelector("[data-module='error-summary']");
    if (summary) {
      wire(summary);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
