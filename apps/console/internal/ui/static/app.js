// Loading and error states for htmx requests: the element that asked is
// marked aria-busy while the request runs, a polite status line says that
// something is loading, and a failed request becomes an error toast that
// screen readers announce.
(function () {
  var pending = 0;
  function status() { return document.getElementById("loading"); }
  function toast(text, error) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var t = document.createElement("div");
    t.className = error ? "toast error" : "toast";
    t.setAttribute("role", error ? "alert" : "status");
    t.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "ghost small";
    close.textContent = "Dismiss";
    close.addEventListener("click", function () { t.remove(); });
    t.appendChild(document.createTextNode(" "));
    t.appendChild(close);
    box.appendChild(t);
  }
  window.gonautToast = toast;
  document.addEventListener("htmx:before:request", function (e) {
    if (e.target && e.target.setAttribute) e.target.setAttribute("aria-busy", "true");
    pending++;
    var s = status();
    if (s) s.hidden = false;
  });
  document.addEventListener("htmx:finally:request", function (e) {
    if (e.target && e.target.removeAttribute) e.target.removeAttribute("aria-busy");
    pending = Math.max(0, pending - 1);
    var s = status();
    if (s && pending === 0) s.hidden = true;
  });
  function failed(e) {
    var st = e.detail && e.detail.ctx && e.detail.ctx.response && e.detail.ctx.response.status;
    toast(st ? "The request failed (HTTP " + st + "). Try again, or reload the page." : "The request failed: the console is unreachable. Try again, or reload the page.", true);
  }
  document.addEventListener("htmx:response:error", failed);
  document.addEventListener("htmx:error", failed);
})();
