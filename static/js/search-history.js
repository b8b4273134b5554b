// Active search keeps one history entry per search (DESIGN §5). The server asks htmx to
// replace the URL while the user types (#q, and #search-settle after a pause) and to push it
// on submit, facet and page changes. Replacing alone would overwrite the entry of the search
// before, so Back could not bring it back; and submitting a typed query would then push a
// second entry for the same search. So the first typed request after a finished search pushes
// its own entry, later keystrokes replace it, and the submit that finishes it replaces it too.
(function () {
  "use strict";

  var typing = false; // the current history entry was made by typing

  document.addEventListener("htmx:beforeHistoryUpdate", function (event) {
    var update = event.detail.history;
    var source = event.detail.requestConfig && event.detail.requestConfig.elt;
    var id = source ? source.id : "";
    if (id === "q") {
      if (!typing) { update.type = "push"; }
      typing = true;
    } else if (id === "search-settle") {
      update.type = "replace";
    } else if (id === "search-form" && typing) {
      update.type = "replace";
      typing = false;
    } else {
      typing = false;
    }
  });

  // Back, Forward and history restores land on an entry that typing no longer owns.
  window.addEventListener("popstate", function () { typing = false; });
})();
