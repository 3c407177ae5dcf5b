// Sends the browser to sign in and back. A join link's fragment holds the session
// key: it stays in this tab (sessionStorage) and is put back by return.js, so it is
// never part of any address the browser is sent to, the provider's included.
// Where the server lets hosts admit guests without an account, a join page offers
// that instead (the same page again, ?as=unverified, fragment kept in place).
(function () {
  "use strict";
  var here = location.pathname + location.search;
  var card = document.getElementById("sso-sign-in");

  function signIn() {
    var next = here;
    if (location.hash) {
      sessionStorage.setItem("ctserver.return", JSON.stringify({ path: here, hash: location.hash }));
      next = "/sso/return";
    }
    document.getElementById("sso-going").hidden = false;
    location.replace("/sso/login?next=" + encodeURIComponent(next));
  }

  if (card.dataset.guestChoice) {
    document.getElementById("sso-sign-in-button").addEventListener("click", signIn);
    document.getElementById("sso-guest-button").addEventListener("click", function () {
      var query = new URLSearchParams(location.search);
      query.set("as", card.dataset.guestChoice);
      location.replace(location.pathname + "?" + query.toString() + location.hash);
    });
  } else {
    signIn();
  }
})();
