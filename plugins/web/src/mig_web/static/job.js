// Stream an action's progress lines (server-sent events) into the page.
(function () {
  var log = document.getElementById("log");
  var state = document.getElementById("state");
  if (!log || log.dataset.done || !window.EventSource) { return; }
  var source = new EventSource(log.dataset.events + "?from=" + log.dataset.sent);
  source.onmessage = function (event) {
    log.appendChild(document.createTextNode(event.data + "\n"));
  };
  source.addEventListener("end", function (event) {
    source.close();
    var ok = event.data === "ok";
    state.textContent = ok ? "done" : "FAILED";
    state.className = ok ? "ok" : "error";
    document.body.dataset.jobDone = event.data;
  });
})();
