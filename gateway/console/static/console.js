// Live refresh: an element with data-refresh-url is replaced by that fragment every
// data-refresh-seconds. No framework; when the session has ended the fragment answers
// 401 and the page reloads, which takes the operator to the login page.
(function () {
  "use strict";
  function schedule(element) {
    var url = element.getAttribute("data-refresh-url");
    var seconds = parseFloat(element.getAttribute("data-refresh-seconds") || "5");
    if (!url || !(seconds > 0)) { return; }
    window.setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (response.status === 401) { window.location.reload(); return null; }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html !== null && html !== undefined) {
            element.innerHTML = html;
            var stop = element.querySelector("[data-refresh-stop]");
            if (stop) { return; }
          }
          schedule(element);
        })
        .catch(function () { schedule(element); });
    }, seconds * 1000);
  }
  document.querySelectorAll("[data-refresh-url]").forEach(schedule);
})();
