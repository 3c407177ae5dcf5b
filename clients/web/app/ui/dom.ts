// Building DOM without HTML strings: every text a peer supplies (names, paths) goes
// in through textContent, so nothing it holds is ever parsed as markup.

type Child = Node | string | null | undefined | false;

export interface Props {
  readonly id?: string;
  readonly className?: string;
  readonly text?: string;
  /** Attributes (aria-*, data-*, role, type...); `false` or null leaves one out. */
  readonly attrs?: Readonly<Record<string, string | number | boolean | null>>;
  readonly on?: { readonly [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  children: readonly Child[] = [],
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.id !== undefined) element.id = props.id;
  if (props.className !== undefined) element.className = props.className;
  if (props.text !== undefined) element.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (value === false || value === null) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const [name, listener] of Object.entries(props.on ?? {})) {
    element.addEventListener(name, listener as EventListener);
  }
  append(element, children);
  return element;
}

export function append(parent: Element, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child);
  }
}

/** Replaces `parent`'s children. */
export function replace(parent: Element, children: readonly Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A small coloured dot; the colour comes from a peer, so it goes through CSSOM
 *  (which the page's Content-Security-Policy allows), never a style attribute. */
export function swatch(colour: string, className = "swatch"): HTMLSpanElement {
  const dot = h("span", { className, attrs: { "aria-hidden": "true" } });
  dot.style.setProperty("--peer-colour", colour);
  return dot;
}
