// GridBot 督办平台: live SLA countdown on the ticket page (the server already renders the text).
(function () {
  "use strict";
  function span(seconds) {
    var s = Math.abs(Math.floor(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return d + "天" + h + "小时";
    if (h) return h + "小时" + m + "分";
    return m + "分钟";
  }
  function tick() {
    document.querySelectorAll("[data-deadline]").forEach(function (box) {
      var left = (Date.parse(box.getAttribute("data-deadline")) - Date.now()) / 1000;
      var text = box.querySelector(".sla-text");
      if (!text || isNaN(left)) return;
      text.textContent = left < 0 ? "已超时 " + span(left) : "剩余 " + span(left);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var tab = document.querySelector(".tabs a.on");  // on a phone the menu scrolls sideways
    if (tab && tab.scrollIntoView) { tab.scrollIntoView({ block: "nearest", inline: "center" }); }
    if (document.querySelector("[data-deadline]")) { setInterval(tick, 30000); }
  });
})();
