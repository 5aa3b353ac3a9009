// Theme: follows the system until the user picks one, then remembers it.
(function () {
  var saved = localStorage.getItem("gonaut-theme");
  if (saved) document.documentElement.setAttribute("data-theme", saved);
  document.addEventListener("DOMContentLoaded", function () {
    var b = document.getElementById("theme-toggle");
    if (!b) return;
    function current() {
      var t = document.documentElement.getAttribute("data-theme");
      if (t) return t;
      return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
    }
    function label() { b.setAttribute("aria-pressed", current() === "dark" ? "true" : "false"); b.textContent = current() === "dark" ? "Light theme" : "Dark theme"; }
    label();
    b.addEventListener("click", function () {
      var next = current() === "dark" ? "light" : "dark";
      document.documentElement.setAttribute("data-theme", next);
      localStorage.setItem("gonaut-theme", next);
      label();
    });
  });
})();
