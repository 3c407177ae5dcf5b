// Back to the page sign-in.js left, with its fragment, once: the stored copy is
// removed first. Only a path on this server is followed.
(function () {
  "use strict";
  var saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem("ctserver.return") || "null");
  } catch (ignored) {
    saved = null;
  }
  sessionStorage.removeItem("ctserver.return");
  var path = saved && typeof saved.path === "string" ? saved.path : "";
  var hash = saved && typeof saved.hash === "string" ? saved.hash : "";
  if (path.charAt(0) === "/" && path.charAt(1) !== "/" && path.charAt(1) !== "\\") {
    location.replace(path + hash);
  } else {
    document.getElementById("sso-lost").hidden = false;
  }
})();
