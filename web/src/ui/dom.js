// Building the page without innerHTML: every text is a text node, so nothing a record
// or a service says can become markup (and the CSP forbids inline script anyway).

/** `h("button", {class: "x", onclick: f}, "Save")`: an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const el = tag.includes(":")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.split(":")[1])
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.setAttribute("class", v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything in `el` with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let nextId = 0;
/** A unique id, for label/for and aria-describedby pairs. */
export const uid = (prefix = "f") => `${prefix}-${++nextId}`;

/** A labelled form control: `field("Passphrase", {type: "password", name: "pass"}, hint)`. */
export function field(label, attrs = {}, hint = null) {
  const id = attrs.id ?? uid(attrs.name ?? "f");
  const hintId = hint ? `${id}-hint` : undefined;
  const tag = attrs.tag ?? "input";
  const { tag: _t, options, ...rest } = attrs;
  const control = h(tag, { ...rest, id, "aria-describedby": hintId },
    ...(options ?? []).map(([value, text]) => h("option", { value }, text)));
  return {
    control,
    el: h("div", { class: "field" }, h("label", { for: id }, label),
      hint ? h("p", { class: "hint", id: hintId }, hint) : null, control),
  };
}

/** Say `text` to screen readers (and show it briefly). */
export function announce(text) {
  const status = document.getElementById("status");
  if (!status) return;
  status.textContent = text;
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => { status.textContent = ""; }, 6000);
}

/** An error box, focused so keyboard and screen-reader users land on it. */
export function errorBox(message, detail = null) {
  const box = h("div", { class: "error", role: "alert", tabindex: "-1" },
    h("strong", {}, message), detail ? h("p", {}, detail) : null);
  queueMicrotask(() => box.focus());
  return box;
}

/** Run `work` with `button` disabled and a busy state; errors go to `onError`. */
export async function busy(button, work, onError) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } catch (exc) {
    onError(exc);
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
