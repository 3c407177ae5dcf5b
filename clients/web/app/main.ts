// ctserver's browser client: the page at /join/<session_id>#<key>.
//
// The key is read from the fragment, which browsers never send; it stays in this
// page's memory and goes nowhere: not in a request, not in storage, not in a log.

import { LinkError, parseJoinLink, type JoinLink } from "../core/index.js";
import { App } from "./app.js";
import { statePage, titleFor } from "./ui/states.js";

function nonce(): string | null {
  const content = document.querySelector<HTMLMetaElement>('meta[name="ct-csp-nonce"]')?.content ?? "";
  return content === "" ? null : content;
}

function badLink(root: HTMLElement, error: LinkError): void {
  const keyProblem = error.kind === "missing_key" || error.kind === "malformed_key";
  const state = keyProblem ? "wrong_key" : "not_found";
  root.replaceChildren(
    statePage({
      state,
      title: keyProblem ? titleFor("wrong_key", null) : "This is not a join link",
      detail: keyProblem
        ? "The key in the link (the part after #) is missing or cut short. Ask the host for the link again and paste the whole of it."
        : `Ask the host for the link again (${error.message}).`,
      actions: [],
    }),
  );
}

function main(): void {
  const root = document.getElementById("app");
  if (root === null) return;
  root.classList.add("ct-app");
  let link: JoinLink;
  try {
    link = parseJoinLink(location.href);
  } catch (thrown) {
    if (!(thrown instanceof LinkError)) throw thrown;
    badLink(root, thrown);
    return;
  }
  new App(root, link, nonce()).start();
}

main();
