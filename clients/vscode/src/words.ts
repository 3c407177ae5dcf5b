// Text from others (names, emails, the server's messages) as VS Code may show it.
// Notifications turn `[label](command:…)` into a link that runs a command, and
// labels turn `$(name)` into an icon: both are broken up with an invisible joiner,
// so what a peer wrote is shown as written and can do nothing.

const JOINER = "\u2060"; // WORD JOINER: invisible, not a space

export function shown(text: string): string {
  return text.replace(/\]\(/g, `]${JOINER}(`).replace(/\$\(/g, `$${JOINER}(`);
}
