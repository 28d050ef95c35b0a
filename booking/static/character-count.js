// GOV.UK character count: "You have N characters remaining" (or "N characters too many") under
// each text box marked data-module="character-count", in a live region screen readers announce.
// Without JavaScript the box keeps its `maxlength` and the "You can enter up to N characters"
// hint; with it the `maxlength` goes, so pasted text is never cut off unseen: too much is
// counted here and refused in words by the server.
// A file of its own, not inline: the Content-Security-Policy allows scripts from 'self' only.
(function () {
  "use strict";

  function plural(n, word) {
    return n.toLocaleString("en-GB") + " " + word + (n === 1 ? "" : "s");
  }

  function wire(group) {
    var max = parseInt(group.getAttribute("data-maxlength"), 10);
    var box = group.querySelector("textarea");
    var info = group.querySelector(".character-count__message");
    if (!box || !info || !(max > 0)) {
      return;
    }
    box.removeAttribute("maxlength");
    // The static hint stays for screen readers (the box is described by it); the live count
    // is what people see.
    info.classList.add("visually-hidden");
    var status = document.createElement("div");
    status.className = "hint character-count__status";
    status.setAttribute("aria-live", "polite");
    info.parentNode.insertBefore(status, info.nextSibling);

    function update() {
      var left = max - box.value.length;
      status.textContent =
        left >= 0
          ? "You have " + plural(left, "character") + " remaining"
          : "You have " + plural(-left, "character") + " too many";
      status.classList.toggle("character-count__status--over", left < 0);
    }
    box.addEventListener("input", update);
    update();
  }

  function start() {
    var groups = document.querySelectorAll("[data-module='character-count']");
    for (var i = 0; i < groups.length; i++) {
      wire(groups[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
