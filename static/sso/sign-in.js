// Sends the browser to sign in and back. A join link's fragment holds the session
// key: it stays in this tab (sessionStorage) and is put back by return.js, so it is
// never part of any address the browser is sent to, the provider's included.
(function () {
  "use strict";
  var here = location.pathname + location.search;
  var next = here;
  if (location.hash) {
    sessionStorage.setItem("ctserver.return", JSON.stringify({ path: here, hash: location.hash }));
    next = "/sso/return";
  }
  document.getElementById("sso-going").hidden = false;
  location.replace("/sso/login?next=" + encodeURIComponent(next));
})();
