// Copy buttons: copy the button's data-copy text, and say so on the button.
(function () {
  "use strict";
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "absolute";
    area.style.left = "-9999px";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
  }
  function copied(button) {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { copied(button); },
          function () { fallbackCopy(text); copied(button); }
        );
      } else {
        fallbackCopy(text);
        copied(button);
      }
    });
  });
})();

// The make form: offer only the apps the chosen course's environment has (each option lists
// its courses in data-courses); the service checks again when the form is sent.
(function () {
  "use strict";
  var course = document.getElementById("course");
  var app = document.getElementById("app");
  if (!course || !app) { return; }
  function offer() {
    var first = null;
    Array.prototype.forEach.call(app.options, function (option) {
      var courses = (option.getAttribute("data-courses") || "").split(" ");
      var has = courses.indexOf(course.value) >= 0;
      option.hidden = !has;
      option.disabled = !has;
      if (has && first === null) { first = option; }
    });
    if (app.selectedOptions.length === 0 || app.selectedOptions[0].disabled) {
      if (first !== null) { first.selected = true; }
    }
  }
  course.addEventListener("change", offer);
  offer();
})();
