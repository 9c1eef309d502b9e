// Only an improvement: the page works without it. Keeps the countdowns of held
// messages current between reloads.
(function () {
  "use strict";
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = Math.floor((Date.parse(el.getAttribute("data-countdown")) - now) / 60000);
      if (isNaN(left)) { return; }
      if (left <= 0) { el.textContent = " (due now)"; return; }
      var h = Math.floor(left / 60), m = left % 60;
      el.textContent = " (in " + h + " h " + (m < 10 ? "0" : "") + m + " min)";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 30000);
  });
})();
