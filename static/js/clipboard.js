// Copy-to-clipboard buttons (DESIGN §5): <button data-copy="ID"> copies the text of #ID.
// Uses navigator.clipboard where it exists (HTTPS, localhost); on plain-HTTP intranet hosts it
// falls back to selecting the text in a box and asking the browser to copy it, and when even
// that is refused it leaves the text selected and says how to copy it by hand.
(function () {
  "use strict";

  function status(button, message) {
    var box = button.parentNode.querySelector(".copy-status");
    if (box) { box.textContent = message; }
  }

  function selectAndCopy(button, text) {
    var area = button.parentNode.querySelector("textarea.copy-fallback");
    if (!area) {
      area = document.createElement("textarea");
      area.className = "copy-fallback";
      area.setAttribute("readonly", "");
      area.setAttribute("aria-label", "Text to copy");
      button.parentNode.appendChild(area);
    }
    area.value = text;
    area.focus();
    area.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
    if (copied) {
      area.remove();
      button.focus();
      status(button, "Copied.");
    } else {
      status(button, "Copying failed: the text is selected below; press Ctrl+C (⌘C on a Mac) to copy it.");
    }
  }

  function copy(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { status(button, "Copying failed: nothing to copy."); return; }
    var text = source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { status(button, "Copied."); },
        function () { selectAndCopy(button, text); }
      );
    } else {
      selectAndCopy(button, text);
    }
  }

  function enable(root) {
    var buttons = (root || document).querySelectorAll("button[data-copy][hidden]");
    for (var i = 0; i < buttons.length; i += 1) { buttons[i].hidden = false; }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (button) { copy(button); }
  });
  document.addEventListener("DOMContentLoaded", function () { enable(document); });
  document.addEventListener("htmx:load", function (event) { enable(event.target); });
}());
