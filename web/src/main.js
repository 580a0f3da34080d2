// The patient's page: a hash router over the pages of ui/. Signed out, only sign-in.
import { h, fill } from "./ui/dom.js";
import { session, signOut } from "./ui/session.js";
import { signInPage } from "./ui/signin.js";
import { recordsPage } from "./ui/records.js";
import { uploadPage } from "./ui/upload.js";
import { recordPage } from "./ui/record.js";
import { sharingPage } from "./ui/sharing.js";
import { grantPage } from "./ui/grant.js";
import { emergencyPage } from "./ui/emergency.js";
import { caregiversPage } from "./ui/caregivers.js";
import { auditPage } from "./ui/audit.js";

const PAGES = {
  records: ["My records", recordsPage],
  upload: ["Add a record", uploadPage],
  sharing: ["Who can see what", sharingPage],
  grant: ["Share", grantPage],
  emergency: ["Emergencies", emergencyPage],
  caregivers: ["Caregivers", caregiversPage],
  audit: ["Access history", auditPage],
};
const MENU = ["records", "upload", "sharing", "grant", "emergency", "caregivers", "audit"];

function nav(current) {
  const el = document.getElementById("nav");
  if (!session.token) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  fill(el, h("ul", {},
    MENU.map((name) => h("li", {}, h("a", { href: `#/${name}`, "aria-current": name === current ? "page" : null }, PAGES[name][0]))),
    h("li", {}, h("a", { href: "#/signout" }, "Sign out"))));
}

async function route() {
  const main = document.getElementById("main");
  const [name, ...args] = location.hash.replace(/^#\/?/, "").split("/");
  if (name === "signout") {
    signOut();
    location.hash = "#/signin";
    return;
  }
  if (!session.token) {
    nav(null);
    document.title = "Sign in · My health record";
    // a new hash routes by itself (hashchange); the same one must be routed by hand
    await signInPage(main, () => (location.hash === "#/records" ? route() : (location.hash = "#/records")));
    return;
  }
  if (!PAGES[name] && name !== "record") {
    location.hash = "#/records";
    return;
  }
  nav(name);
  const [title, page] = name === "record" ? ["My record", recordPage] : PAGES[name];
  document.title = `${title} · My health record`;
  fill(main, h("h1", {}, title), h("p", {}, "Loading…"));
  main.focus();
  await page(main, ...args.map(decodeURIComponent));
}

window.addEventListener("hashchange", route);
route();
